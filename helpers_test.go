package wxpay

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
)

// md5Upper is the plain definition of an MD5 sign, used as an independent
// reference in tests.
func md5Upper(s string) string {
	sum := md5.Sum([]byte(s))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// hmacUpper is the plain definition of an HMAC-SHA256 sign.
func hmacUpper(key, s string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(s))
	return strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
}

// canonical is the plain definition of the string-to-sign: non-empty
// fields other than sign, sorted by name, joined as name=value&, then
// key=KEY. Tests and floor benchmarks hold the signer to it.
func canonical(p Params, key string) string {
	keys := make([]string, 0, len(p))
	n := len("key=") + len(key)
	for k, v := range p {
		if v != "" && k != "sign" {
			keys = append(keys, k)
			n += len(k) + len(v) + 2
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.Grow(n)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(p[k])
		b.WriteByte('&')
	}
	b.WriteString("key=")
	b.WriteString(key)
	return b.String()
}

// minimalScan is the least a parser of a flat message can do with the
// standard library: find each <name>, take the text up to the next "</",
// strip CDATA. It validates nothing; floor benchmarks use it.
func minimalScan(body []byte) Params {
	p := make(Params, 32)
	rest := body
	for {
		lt := bytes.IndexByte(rest, '<')
		if lt < 0 || lt+1 >= len(rest) {
			return p
		}
		rest = rest[lt+1:]
		gt := bytes.IndexByte(rest, '>')
		if gt < 0 {
			return p
		}
		name := rest[:gt]
		rest = rest[gt+1:]
		if rest0 := name[0]; rest0 == '/' || rest0 == '?' || string(name) == "xml" {
			continue // end tags, the declaration, the root
		}
		end := bytes.Index(rest, []byte("</"))
		val := rest[:end]
		if bytes.HasPrefix(val, []byte("<![CDATA[")) {
			val = val[9 : len(val)-3]
		}
		p[string(name)] = string(val)
		rest = rest[end:]
	}
}
