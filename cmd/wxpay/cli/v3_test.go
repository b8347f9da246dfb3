package cli

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay/apiv3"
)

// API v3 vectors of testdata/v3 (see its PROVENANCE.md) and the
// protocol's published examples.
const (
	v3Dir      = "../../../testdata/v3/"
	v1MchID    = "1230000109"
	v1Serial   = "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C" // the http-header-authorization-error page's serial_no
	v1TS       = "1554208460"
	v1Nonce    = "593BEC0C930BF1AFEB40B4A08C8FB242"
	v1URI      = "/v3/pay/transactions/jsapi"
	v1Body     = `{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","amount":{"total":100,"currency":"CNY"},"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}`
	v1Sig      = "gEuexJ547PHFV77TQ6eiE4tphVYfWfUe1Wc2dBmVnoMYU2rl/M4zhw+b3vBhuMw6AC7pteNkryLA7UWU2h+umo0OdSuuLm1++O3NckQPCSfm6dypsjn4GYm84KMqXWFrhFmyxEwIdEJDr3w1UYfxOcu55OQupfLkrt/ZzuOspnliJFrPzGQFUk7lGqMMtpz3EfbDUNxnVsHblORg3hVmuYNmbGWnS2ovU30Y2Q+iKFDxzkaXBk8LTy6HzvxizRo6Q+J4SVM7O0hKXfgo1QdI68kpzNULb3EVBXlhTyPUzhkHzzLxECL1qHl3HH2hEv8++C+4wBlsagF3j/O6PABojA=="
	v5PubKeyID = "PUB_KEY_ID_0114232134912410000000000000"
	v5APIv3Key = "0123456789abcdefghijABCDEFGHIJ01"
	v4APIv3Key = "testMchAPIv3Key0" // 16 bytes: must be refused
	wgoSerial  = "D7CE59D1F522D701"
	testV3Key  = "Apiv3Key0000000000000000000000zZ" // the doctor tests' APIv3 key
)

func init() {
	secrets = append(secrets, v5APIv3Key, v4APIv3Key, testV3Key)
	// Lines of the private keys' PEM: no output may carry a piece of one.
	for _, f := range []string{"k-off.pem", "k-wgo.pem"} {
		b, err := os.ReadFile(v3Dir + f)
		if err != nil {
			panic(err)
		}
		lines := strings.Split(string(b), "\n")
		secrets = append(secrets, lines[1], lines[len(lines)/2])
	}
}

func v1Env(kv ...string) map[string]string {
	env := map[string]string{EnvMchID: v1MchID, EnvKeyFile: v3Dir + "k-off.pem", EnvV3Serial: v1Serial}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(env, kv[i])
		} else {
			env[kv[i]] = kv[i+1]
		}
	}
	return env
}

// sign -v3 reproduces V1: the published signature, in the header laid out
// as the published Authorization example, over the five-line message.
func TestSignV3Vector(t *testing.T) {
	code, out, errOut := run(t, v1Env(), v1Body, "sign", "-v3", "-json", "-timestamp", v1TS, "-nonce", v1Nonce,
		"POST", "https://api.mch.weixin.qq.com"+v1URI, "-")
	require.Equal(t, ExitOK, code, errOut)
	var res signV3Result
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.Equal(t, "POST\n"+v1URI+"\n"+v1TS+"\n"+v1Nonce+"\n"+v1Body+"\n", res.Message)
	assert.Equal(t, `WECHATPAY2-SHA256-RSA2048 mchid="1230000109",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",signature="`+v1Sig+`",timestamp="1554208460",serial_no="`+v1Serial+`"`, res.Authorization)
	assert.Equal(t, v1URI, res.URI)

	// The same from a body file, and a path-only URL: same signature.
	f := writeFile(t, "body.json", v1Body)
	code, out, _ = run(t, v1Env(), "", "sign", "-v3", "-timestamp", v1TS, "-nonce", v1Nonce, "POST", v1URI, f)
	require.Equal(t, ExitOK, code)
	assert.Contains(t, out, `signature="`+v1Sig+`"`)
	assert.True(t, strings.HasPrefix(out, "Authorization: WECHATPAY2-SHA256-RSA2048 "))

	// One byte more (a final newline) is another signature, with a note.
	code, out, errOut = run(t, v1Env(), v1Body+"\n", "sign", "-v3", "-timestamp", v1TS, "-nonce", v1Nonce, "POST", v1URI, "-")
	require.Equal(t, ExitOK, code)
	assert.NotContains(t, out, v1Sig)
	assert.Contains(t, errOut, "ends with a newline")
}

// Without -timestamp and -nonce: now and 32 random characters, and the
// header verifies under the key's public half.
func TestSignV3Fresh(t *testing.T) {
	code, out, _ := run(t, v1Env(), "", "sign", "-v3", "-json", "GET", "/v3/certificates?algorithm_type=RSA")
	require.Equal(t, ExitOK, code)
	var res signV3Result
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.Regexp(t, `^[0-9A-Za-z]{32}$`, res.Nonce)
	ts, err := strconv.ParseInt(res.Timestamp, 10, 64)
	require.NoError(t, err)
	assert.InDelta(t, time.Now().Unix(), ts, 5)
	assert.Equal(t, "GET\n/v3/certificates?algorithm_type=RSA\n"+res.Timestamp+"\n"+res.Nonce+"\n\n", res.Message)
	sig := regexp.MustCompile(`signature="([^"]+)"`).FindStringSubmatch(res.Authorization)
	require.Len(t, sig, 2)
	raw, err := base64.StdEncoding.DecodeString(sig[1])
	require.NoError(t, err)
	pub, err := apiv3.ParsePublicKey(mustRead(t, v3Dir+"k-off.pub.pem"))
	require.NoError(t, err)
	d := sha256.Sum256([]byte(res.Message))
	assert.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], raw))
}

// The serial comes from WXPAY_CERT_FILE when WXPAY_V3_SERIAL is unset;
// a key that is not the certificate's, or a serial that is another
// certificate's, is refused naming the settings.
func TestSignV3Certificate(t *testing.T) {
	env := map[string]string{EnvMchID: v1MchID, EnvKeyFile: v3Dir + "k-wgo.pem", EnvCertFile: v3Dir + "wgo-cert-D7CE59D1F522D701.pem"}
	code, out, _ := run(t, env, "", "sign", "-v3", "GET", "/v3/certificates")
	require.Equal(t, ExitOK, code)
	assert.Contains(t, out, `serial_no="`+wgoSerial+`"`)

	env[EnvV3Serial] = "0" + wgoSerial // a leading zero names the same certificate
	code, _, _ = run(t, env, "", "sign", "-v3", "GET", "/v3/certificates")
	assert.Equal(t, ExitOK, code)

	env[EnvV3Serial] = v1Serial
	code, _, errOut := run(t, env, "", "sign", "-v3", "GET", "/v3/certificates")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, EnvV3Serial+" is "+v1Serial+" but "+EnvCertFile+" has serial "+wgoSerial)

	delete(env, EnvV3Serial)
	env[EnvKeyFile] = v3Dir + "k-off.pem"
	code, _, errOut = run(t, env, "", "sign", "-v3", "GET", "/v3/certificates")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, EnvKeyFile+" is not the key of "+EnvCertFile)
}

func TestSignV3Curl(t *testing.T) {
	f := writeFile(t, "o'rder.json", v1Body)
	env := v1Env(EnvV3PubKeyID, v5PubKeyID)
	code, out, _ := run(t, env, "", "sign", "-v3", "-curl", "-timestamp", v1TS, "-nonce", v1Nonce, "POST", v1URI, f)
	require.Equal(t, ExitOK, code)
	assert.Contains(t, out, "curl -sS -X POST 'https://api.mch.weixin.qq.com/v3/pay/transactions/jsapi'")
	assert.Contains(t, out, `signature="`+v1Sig+`"`)
	assert.Contains(t, out, "-H 'Wechatpay-Serial: "+v5PubKeyID+"'")
	assert.Contains(t, out, "--data-binary '@"+strings.ReplaceAll(f, "'", `'\''`)+"'")

	code, out, _ = run(t, v1Env(EnvBaseURL, "http://127.0.0.1:9"), `{"a":"it's"}`, "sign", "-v3", "-curl", "POST", "/v3/x", "-")
	require.Equal(t, ExitOK, code)
	assert.Contains(t, out, "'http://127.0.0.1:9/v3/x'")
	assert.Contains(t, out, `--data-binary '{"a":"it'\''s"}'`)
}

// Bad command lines and settings: exit 2, a message naming what is
// wrong, never a secret (run checks every output).
func TestSignV3BadInput(t *testing.T) {
	notPEM := writeFile(t, "key.pem", "not a key")
	certAsKey := v3Dir + "wgo-cert-D7CE59D1F522D701.pem"
	secretPath := filepath.Join(t.TempDir(), v5APIv3Key) // a secret pasted as a path
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	require.NoError(t, err)
	ecFile := writeFile(t, "ec.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})))
	short, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	shortFile := writeFile(t, "short.pem", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(short)})))
	twoFile := writeFile(t, "two.pem", string(mustRead(t, v3Dir+"k-off.pem"))+string(mustRead(t, v3Dir+"k-off.pem")))
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"lowercase method", v1Env(), []string{"post", v1URI}, "write the method in capitals (POST)"},
		{"unknown method", v1Env(), []string{"HEAD", v1URI}, "GET, POST, PUT, PATCH and DELETE"},
		{"no URL", v1Env(), []string{"POST"}, "wants METHOD URL"},
		{"too many", v1Env(), []string{"POST", v1URI, "a", "b"}, "wants METHOD URL"},
		{"space in URL", v1Env(), []string{"GET", "/v3/a b"}, "percent-encoded"},
		{"non-ASCII URL", v1Env(), []string{"GET", "/v3/订单"}, "percent-encoded"},
		{"unsubstituted", v1Env(), []string{"GET", "/v3/pay/transactions/out-trade-no/{out_trade_no}"}, "substitute the path parameter"},
		{"fragment", v1Env(), []string{"GET", "/v3/x#y"}, "fragment"},
		{"dot segment", v1Env(), []string{"GET", "https://api.mch.weixin.qq.com/v3/a/../certificates"}, "curl removes before sending"},
		{"relative", v1Env(), []string{"GET", "v3/x"}, "starting with /v3/"},
		{"no host", v1Env(), []string{"GET", "https:///v3/x"}, "no host"},
		{"user info", v1Env(), []string{"GET", "https://u:" + v5APIv3Key + "@h/v3/x"}, "user info"},
		{"GET with body", v1Env(), []string{"GET", v1URI, "-"}, "a GET has no body"},
		{"millisecond timestamp", v1Env(), []string{"-timestamp", "1554208460000x", "GET", v1URI}, "Unix seconds"},
		{"nonce with quote", v1Env(), []string{"-nonce", `a"b`, "GET", v1URI}, "-nonce must be"},
		{"missing body file", v1Env(), []string{"POST", v1URI, filepath.Join(t.TempDir(), "none.json")}, "no such file"},
		{"no mchid", v1Env(EnvMchID, ""), []string{"GET", v1URI}, EnvMchID + " is not set"},
		{"mchid is a secret", v1Env(EnvMchID, v5APIv3Key), []string{"GET", v1URI}, "digits only"},
		{"no key file", v1Env(EnvKeyFile, ""), []string{"GET", v1URI}, EnvKeyFile + " is not set"},
		{"key file missing", v1Env(EnvKeyFile, secretPath), []string{"GET", v1URI}, "not a certificate file name; not shown"},
		{"key not PEM", v1Env(EnvKeyFile, notPEM), []string{"GET", v1URI}, EnvKeyFile + ": PrivateKey is not PEM"},
		{"certificate as key", v1Env(EnvKeyFile, certAsKey), []string{"GET", v1URI}, "holds a certificate"},
		{"EC key", v1Env(EnvKeyFile, ecFile), []string{"GET", v1URI}, "not an RSA key"},
		{"1024-bit key", v1Env(EnvKeyFile, shortFile), []string{"GET", v1URI}, "shorter than 2048 bits"},
		{"two keys", v1Env(EnvKeyFile, twoFile), []string{"GET", v1URI}, "more than one PEM block"},
		{"serial not hex", v1Env(EnvV3Serial, v5APIv3Key), []string{"GET", v1URI}, EnvV3Serial + " must be the hex serial"},
		{"no serial", v1Env(EnvV3Serial, ""), []string{"GET", v1URI}, "set " + EnvV3Serial + " (the serial of apiclient_cert.pem) or " + EnvCertFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, tc.env, v1Body, append([]string{"sign", "-v3"}, tc.args...)...)
			assert.Equal(t, ExitUsage, code, errOut)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tc.want)
		})
	}
}

// notifyVector is a notification vector of testdata/v3.
type notifyVector struct {
	Headers map[string]string `json:"headers"`
	Now     int64             `json:"now"`
	Body    string            `json:"body"`
}

func loadNotify(t *testing.T, name string) notifyVector {
	t.Helper()
	var v notifyVector
	require.NoError(t, json.Unmarshal(mustRead(t, v3Dir+name), &v))
	return v
}

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return b
}

// headerArgs turns headers into -H flags.
func headerArgs(h map[string]string) []string {
	var args []string
	for _, k := range sortedKeys(h) {
		args = append(args, "-H", k+": "+h[k])
	}
	return args
}

func v5Env(kv ...string) map[string]string {
	env := map[string]string{EnvMchID: v1MchID, EnvAPIv3Key: v5APIv3Key, EnvV3PubKeyID: v5PubKeyID, EnvV3PubKeyFile: v3Dir + "k-off.pub.pem"}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(env, kv[i])
		} else {
			env[kv[i]] = kv[i+1]
		}
	}
	return env
}

func with(h map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

// verify -v3 on V5 and V4 and their broken variants: each failure names
// its check and a cause that says what to do.
func TestVerifyV3(t *testing.T) {
	v5 := loadNotify(t, "notify-v5.json")
	v4 := loadNotify(t, "notify-v4.json")
	at5 := strconv.FormatInt(v5.Now, 10)
	at4 := strconv.FormatInt(v4.Now, 10)
	pretty := func(b string) string {
		var p bytes.Buffer
		require.NoError(t, json.Indent(&p, []byte(b), "", "  "))
		return p.String()
	}
	wgoPub := writePublicKey(t, v3Dir+"k-wgo.pem")
	wgoCert := v3Dir + "wgo-cert-D7CE59D1F522D701.pem"
	for _, tc := range []struct {
		name    string
		env     map[string]string
		headers map[string]string
		body    string
		args    []string
		code    int
		check   string
		cause   string // a piece of the cause
		plain   bool   // the plaintext is printed
	}{
		{name: "V5 verifies", env: v5Env(), headers: v5.Headers, body: v5.Body, args: []string{"-at", at5}, code: ExitOK},
		{name: "V5 opens", env: v5Env(), headers: v5.Headers, body: v5.Body, args: []string{"-at", at5, "-decrypt"}, code: ExitOK, plain: true},
		{name: "V5 now is stale", env: v5Env(), headers: v5.Headers, body: v5.Body, code: ExitFail, check: checkV3Timestamp, cause: "give -at"},
		{name: "clock slow", env: v5Env(), headers: v5.Headers, body: v5.Body, args: []string{"-at", strconv.FormatInt(v5.Now-600, 10)}, code: ExitFail, check: checkV3Timestamp, cause: "clock is slow"},
		{name: "probe", env: v5Env(), headers: with(v5.Headers, "Wechatpay-Signature", apiv3.ProbePrefix+v5.Headers["Wechatpay-Signature"]), body: v5.Body, args: []string{"-at", at5}, code: ExitFail, check: checkV3Probe, cause: "WeChat then sends the notification again"},
		{name: "unknown public key id", env: v5Env(), headers: with(v5.Headers, "Wechatpay-Serial", "PUB_KEY_ID_0000000000000000000000000009"), body: v5.Body, args: []string{"-at", at5}, code: ExitFail, check: checkV3Serial, cause: "another public key id"},
		{name: "certificate serial, public key only", env: v5Env(), headers: with(v5.Headers, "Wechatpay-Serial", wgoSerial), body: v5.Body, args: []string{"-at", at5}, code: ExitFail, check: checkV3Serial, cause: "migrating to the public key"},
		{name: "public key id, certificates only", env: v5Env(EnvV3PubKeyID, "", EnvV3PubKeyFile, "", EnvV3PlatformCertFile, wgoCert), headers: v5.Headers, body: v5.Body, args: []string{"-at", at5}, code: ExitFail, check: checkV3Serial, cause: "none is configured"},
		{name: "editor newline", env: v5Env(), headers: v5.Headers, body: v5.Body + "\n", args: []string{"-at", at5}, code: ExitFail, check: checkV3Signature, cause: "ends with a newline"},
		{name: "CRLF", env: v5Env(), headers: v5.Headers, body: strings.ReplaceAll(pretty(v5.Body), "\n", "\r\n"), args: []string{"-at", at5}, code: ExitFail, check: checkV3Signature, cause: "re-formatted"},
		{name: "pretty-printed", env: v5Env(), headers: v5.Headers, body: pretty(v5.Body), args: []string{"-at", at5}, code: ExitFail, check: checkV3Signature, cause: "re-formatted"},
		{name: "body changed", env: v5Env(), headers: v5.Headers, body: strings.Replace(v5.Body, "EV-2026", "EV-2027", 1), args: []string{"-at", at5}, code: ExitFail, check: checkV3Signature, cause: "did not make this signature"},
		{name: "wrong public key", env: v5Env(EnvV3PubKeyFile, wgoPub), headers: v5.Headers, body: v5.Body, args: []string{"-at", at5}, code: ExitFail, check: checkV3Signature, cause: "did not make this signature"},
		{name: "missing nonce", env: v5Env(), headers: with(v5.Headers, "Wechatpay-Nonce", ""), body: v5.Body, args: []string{"-at", at5}, code: ExitFail, check: checkV3Headers, cause: "stripped the Wechatpay-* headers"},
		{name: "SM2", env: v5Env(), headers: with(v5.Headers, "Wechatpay-Signature-Type", "WECHATPAY2-SM2-WITH-SM3"), body: v5.Body, args: []string{"-at", at5}, code: ExitFail, check: checkV3SigType, cause: "SM2"},
		{name: "wrong APIv3 key", env: v5Env(EnvAPIv3Key, testV3Key), headers: v5.Headers, body: v5.Body, args: []string{"-at", at5, "-decrypt"}, code: ExitFail, check: checkV3Decrypt, cause: "is not the APIv3 key"},
		{name: "APIv2 key as APIv3 key", env: v5Env(EnvAPIv3Key, docKey, EnvAPIKey, docKey), headers: v5.Headers, body: v5.Body, args: []string{"-at", at5, "-decrypt"}, code: ExitFail, check: checkV3Decrypt, cause: "the APIv2 key is not the APIv3 key"},
		{name: "another merchant", env: v5Env(EnvMchID, "1900000001"), headers: v5.Headers, body: v5.Body, args: []string{"-at", at5, "-decrypt"}, code: ExitFail, check: checkV3Merchant, cause: "another merchant", plain: true},
		{name: "V4 verifies under its certificate", env: v5Env(EnvV3PubKeyID, "", EnvV3PubKeyFile, "", EnvV3PlatformCertFile, wgoCert), headers: v4.Headers, body: v4.Body, args: []string{"-at", at4}, code: ExitOK},
		{name: "V4 16-byte key refused", env: v5Env(EnvV3PubKeyID, "", EnvV3PubKeyFile, "", EnvV3PlatformCertFile, wgoCert, EnvAPIv3Key, v4APIv3Key), headers: v4.Headers, body: v4.Body, args: []string{"-at", at4, "-decrypt"}, code: ExitFail, check: checkV3Decrypt, cause: "a 16-byte key (AES-128"},
		{name: "signed by another configured key", env: v5Env(EnvV3PlatformCertFile, wgoCert), headers: with(v4.Headers, "Wechatpay-Serial", v5PubKeyID), body: v4.Body, args: []string{"-at", at4}, code: ExitFail, check: checkV3Signature, cause: "it verifies under platform certificate " + wgoSerial},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"verify", "-json"}, headerArgs(tc.headers)...), tc.args...)
			code, out, errOut := run(t, tc.env, tc.body, args...)
			require.Equal(t, tc.code, code, out+errOut)
			var res verifyV3Result
			require.NoError(t, json.Unmarshal([]byte(out), &res), out)
			assert.Equal(t, tc.check, res.Check, res.Problem)
			assert.Equal(t, tc.code == ExitOK, res.OK)
			assert.Contains(t, res.Cause, tc.cause)
			assert.Equal(t, tc.plain, res.Plaintext != "", "plaintext")
			assert.Equal(t, "notification", res.Kind)
		})
	}
}

// The text form, from a header file as curl -D writes it (a status line,
// CRLF ends) and the body from a file.
func TestVerifyV3HeaderFile(t *testing.T) {
	v5 := loadNotify(t, "notify-v5.json")
	var hf strings.Builder
	hf.WriteString("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
	for _, k := range sortedKeys(v5.Headers) {
		hf.WriteString(strings.ToLower(k) + ":  " + v5.Headers[k] + " \r\n")
	}
	hfile := writeFile(t, "headers.txt", hf.String())
	bfile := writeFile(t, "body.json", v5.Body)
	code, out, errOut := run(t, v5Env(), "", "verify", "-headers", hfile, bfile, "-at", strconv.FormatInt(v5.Now, 10))
	require.Equal(t, ExitOK, code, out+errOut)
	assert.Contains(t, out, "OK: the signature matches")
	assert.Contains(t, out, "note: a notification: -decrypt opens its resource under "+EnvAPIv3Key)
	assert.NotContains(t, out, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "the plaintext is printed only with -decrypt")

	code, out, _ = run(t, v5Env(), "", "verify", "-headers", hfile, bfile)
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, out, "FAILED (timestamp): Wechatpay-Timestamp is ")
	assert.Contains(t, out, "likely cause: a replay")
}

// An answer (no resource) verifies as an answer; the probe of V9 is
// named as a probe even without a key for its serial.
func TestVerifyV3AnswerAndProbe(t *testing.T) {
	key, err := apiv3.ParsePrivateKey(mustRead(t, v3Dir+"k-off.pem"))
	require.NoError(t, err)
	body := `{"prepay_id":"wx201410272009395522657a690389285100"}`
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	d := sha256.Sum256([]byte(ts + "\nNONCE1\n" + body + "\n"))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
	require.NoError(t, err)
	h := map[string]string{"Wechatpay-Serial": v5PubKeyID, "Wechatpay-Timestamp": ts, "Wechatpay-Nonce": "NONCE1", "Wechatpay-Signature": base64.StdEncoding.EncodeToString(sig)}
	code, out, _ := run(t, v5Env(), body, append([]string{"verify", "-v3"}, headerArgs(h)...)...)
	assert.Equal(t, ExitOK, code, out)
	assert.Contains(t, out, "kind:      answer")

	var probe map[string]string
	require.NoError(t, json.Unmarshal(mustRead(t, v3Dir+"probe-v9.json"), &probe))
	ph := map[string]string{}
	for _, k := range []string{"Wechatpay-Serial", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature"} {
		ph[k] = probe[k]
	}
	code, out, _ = run(t, v5Env(), body, append(append([]string{"verify"}, headerArgs(ph)...), "-at", probe["Wechatpay-Timestamp"])...)
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, out, "FAILED (probe signature)")
}

func TestVerifyV3BadInput(t *testing.T) {
	v5 := loadNotify(t, "notify-v5.json")
	h := headerArgs(v5.Headers)
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		body string
		want string
	}{
		{"no headers", v5Env(), []string{"-v3"}, v5.Body, "needs the message's headers"},
		{"no Wechatpay headers", v5Env(), []string{"-H", "Content-Type: application/json"}, v5.Body, "carry no Wechatpay-* header"},
		{"XML body", v5Env(), h, "<xml><a>1</a></xml>", "the body is XML"},
		{"-H without colon", v5Env(), []string{"-H", v5APIv3Key}, v5.Body, "-H flag 1: want 'Name: value'"},
		{"-H two lines", v5Env(), []string{"-H", "A: 1\nB: 2"}, v5.Body, "-H flag 1"},
		{"header file missing", v5Env(), []string{"-headers", filepath.Join(t.TempDir(), "none")}, v5.Body, "-headers:"},
		{"folded header", v5Env(), []string{"-headers", writeFile(t, "h", "Wechatpay-Nonce: a\n b\n")}, v5.Body, "headers line 2: starts with whitespace"},
		{"secret line", v5Env(), []string{"-headers", writeFile(t, "h", "Wechatpay-Nonce: a\n"+EnvAPIv3Key+"="+v5APIv3Key+"\n")}, v5.Body, "headers line 2: want Name: value"},
		{"bad name", v5Env(), []string{"-headers", writeFile(t, "h", "Wechat pay: a\n")}, v5.Body, "not an HTTP token"},
		{"control character", v5Env(), []string{"-headers", writeFile(t, "h", "Wechatpay-Nonce: a\x00b\n")}, v5.Body, "control character"},
		{"bad -at", v5Env(), append([]string{"-at", "yesterday"}, h...), v5.Body, "-at must be Unix seconds"},
		{"no WeChat key", v5Env(EnvV3PubKeyID, "", EnvV3PubKeyFile, ""), h, v5.Body, "no WeChat key to verify with"},
		{"public key id alone", v5Env(EnvV3PubKeyFile, ""), h, v5.Body, "together"},
		{"public key id is a secret", v5Env(EnvV3PubKeyID, v5APIv3Key), h, v5.Body, EnvV3PubKeyID + " must be"},
		{"public key file is a private key", v5Env(EnvV3PubKeyFile, v3Dir+"k-off.pem"), h, v5.Body, EnvV3PubKeyFile + ":"},
		{"platform file holds a key", v5Env(EnvV3PlatformCertFile, v3Dir+"k-off.pub.pem"), h, v5.Body, "not a CERTIFICATE"},
		{"decrypt without key", v5Env(EnvAPIv3Key, ""), append([]string{"-decrypt"}, h...), v5.Body, "-decrypt needs " + EnvAPIv3Key},
		{"two bodies", v5Env(), append([]string{"a", "b"}, h...), v5.Body, "at most one body file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, tc.env, tc.body, append([]string{"verify"}, tc.args...)...)
			assert.Equal(t, ExitUsage, code, out+errOut)
			assert.Contains(t, errOut, tc.want)
		})
	}
	// v2 verify given a JSON body points at v3.
	code, _, errOut := run(t, docEnv(), v5.Body, "verify")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "a JSON body is an API v3 message")
}

func TestParseHeaderLines(t *testing.T) {
	h, err := parseHeaderLines([]byte("\xef\xbb\xbfHTTP/1.1 301 Moved\nLocation: x\n\nHTTP/2 200\r\n# note\nwechatpay-serial:  A1 \r\nX-Twice: 1\nX-Twice: 2\nEmpty:\n"))
	require.NoError(t, err)
	assert.Equal(t, http.Header{"Wechatpay-Serial": {"A1"}, "X-Twice": {"1", "2"}, "Empty": {""}}, h)
	for name, in := range map[string]string{
		"no colon":      "abc\n",
		"empty name":    ": v\n",
		"space in name": "A B: v\n",
		"folded":        "A: v\n\tw\n",
		"DEL":           "A: v\x7f\n",
		"too long":      strings.Repeat("A: v\n", maxHeaderFile/5+1),
		"too many":      strings.Repeat("A: v\n", maxHeaders+1),
	} {
		_, err := parseHeaderLines([]byte(in))
		assert.ErrorIs(t, err, errHeaders, name)
	}
}

// FuzzParseHeaderLines holds the header-file parser to its rules: no
// panic; errors are *headerError and quote nothing of the input; every
// name is a canonical token, and no value holds a control character other
// than tab or surrounding whitespace; and the headers written back as
// lines parse to the same headers.
func FuzzParseHeaderLines(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nWechatpay-Serial: PUB_KEY_ID_1\r\nWechatpay-Nonce: n\r\n"))
	f.Add([]byte("a:b\n\n# c\nA: \t d \t\n"))
	f.Add([]byte(" folded\n"))
	f.Add([]byte("\xef\xbb\xbf:\n"))
	f.Add([]byte("X: 1\nx: 2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHeaderLines(b)
		if err != nil {
			he, ok := err.(*headerError)
			if !ok || h != nil {
				t.Fatalf("error %v (%T)", err, err)
			}
			if len(b) >= 24 && strings.Contains(he.Error(), string(b)) {
				t.Fatal("the error quotes the input")
			}
			return
		}
		var lines strings.Builder
		for _, k := range sortedKeys(h) {
			if !isToken(k) || http.CanonicalHeaderKey(k) != k {
				t.Fatalf("bad name %q", k)
			}
			for _, v := range h[k] {
				if strings.Trim(v, " \t") != v || strings.ContainsAny(v, "\r\n\x00\x7f") {
					t.Fatalf("bad value %q", v)
				}
				lines.WriteString(k + ": " + v + "\n")
			}
		}
		h2, err := parseHeaderLines([]byte(lines.String()))
		if err != nil || len(h2) != len(h) {
			t.Fatalf("round trip: %v", err)
		}
		for k, vs := range h {
			if strings.Join(h2[k], "\x00") != strings.Join(vs, "\x00") {
				t.Fatalf("round trip changed %s", k)
			}
		}
	})
}

func TestWantsV3(t *testing.T) {
	for args, want := range map[string]bool{
		"-v3":                true,
		"--v3":               true,
		"-v3=true":           true,
		"-v3=false":          false,
		"x -- -v3":           false,
		"-json msg.xml":      false,
		"-H A:1 -json":       true,
		"-headers=h.txt":     true,
		"-":                  false,
		"-config c -decrypt": true,
	} {
		assert.Equal(t, want, wantsV3(strings.Fields(args), "H", "headers", "decrypt"), args)
	}
}

// writePublicKey writes the public half of a private key file as PEM.
func writePublicKey(t *testing.T, keyFile string) string {
	t.Helper()
	k, err := apiv3.ParsePrivateKey(mustRead(t, keyFile))
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	require.NoError(t, err)
	return writeFile(t, "pub.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
}

// selfSigned makes a certificate for key with common name cn, valid from
// nb to na.
func selfSigned(t testing.TB, key *rsa.PrivateKey, serial *big.Int, cn string, nb, na time.Time) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, NotBefore: nb, NotAfter: na}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// certServer plays WeChat's GET /v3/certificates: it checks the request's
// Authorization against the registered merchant key and serial, answers
// with platformCert encrypted under apiV3Key, signed with platformKey.
// status, when not 200, is answered instead (unsigned for 401, signed
// otherwise).
type certServer struct {
	merchant     *rsa.PublicKey
	mchID        string
	serial       string
	apiV3Key     string
	platformKey  *rsa.PrivateKey
	platformCert []byte
	platformSN   string
	status       int
	// errKey and errSerial sign error answers: a public-key merchant's
	// are signed with the WeChat Pay public key's private half.
	errKey    *rsa.PrivateKey
	errSerial string
}

func (s *certServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v3/certificates" || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	items := map[string]string{}
	auth := strings.TrimPrefix(r.Header.Get("Authorization"), apiv3.AuthScheme+" ")
	for _, m := range regexp.MustCompile(`(\w+)="([^"]*)"`).FindAllStringSubmatch(auth, -1) {
		items[m[1]] = m[2]
	}
	sig, _ := base64.StdEncoding.DecodeString(items["signature"])
	d := sha256.Sum256(apiv3.RequestMessage(r.Method, r.URL.RequestURI(), items["timestamp"], items["nonce_str"], nil))
	if items["mchid"] != s.mchID || items["serial_no"] != s.serial || rsa.VerifyPKCS1v15(s.merchant, crypto.SHA256, d[:], sig) != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"code":"SIGN_ERROR","message":"错误的签名，验签失败"}`)
		return
	}
	status, body := http.StatusOK, ""
	if s.status != 0 {
		status, body = s.status, `{"code":"RESOURCE_NOT_EXISTS","message":"证书不存在"}`
	} else {
		block, _ := aes.NewCipher([]byte(s.apiV3Key))
		gcm, _ := cipher.NewGCM(block)
		ct := gcm.Seal(nil, []byte("61f9c719728a"), s.platformCert, []byte("certificate"))
		body = fmt.Sprintf(`{"data":[{"serial_no":%q,"effective_time":"2024-01-01T00:00:00+08:00","expire_time":"2030-01-01T00:00:00+08:00","encrypt_certificate":{"algorithm":"AEAD_AES_256_GCM","nonce":"61f9c719728a","associated_data":"certificate","ciphertext":%q}}]}`,
			s.platformSN, base64.StdEncoding.EncodeToString(ct))
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	dd := sha256.Sum256([]byte(ts + "\nN0NCE\n" + body + "\n"))
	key, serial := s.platformKey, s.platformSN
	if s.status != 0 {
		key, serial = s.errKey, s.errSerial
	}
	rsig, _ := rsa.SignPKCS1v15(nil, key, crypto.SHA256, dd[:])
	w.Header().Set("Wechatpay-Serial", serial)
	w.Header().Set("Wechatpay-Timestamp", ts)
	w.Header().Set("Wechatpay-Nonce", "N0NCE")
	w.Header().Set("Wechatpay-Signature", base64.StdEncoding.EncodeToString(rsig))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

// doctor -v3 offline and against a certificate download on loopback:
// every line says what it verified, and each broken setting fails its
// own line.
func TestDoctorV3(t *testing.T) {
	merchantKey, err := apiv3.ParsePrivateKey(mustRead(t, v3Dir+"k-off.pem"))
	require.NoError(t, err)
	platformKey, err := apiv3.ParsePrivateKey(mustRead(t, v3Dir+"k-wgo.pem"))
	require.NoError(t, err)
	now := time.Now()
	sn, _ := new(big.Int).SetString("5157F09EFDC096DE15EBE81A47057A7232F1B8E1", 16)
	merchantCert := writeFile(t, "apiclient_cert.pem", string(selfSigned(t, merchantKey, sn, v1MchID, now.Add(-time.Hour), now.Add(365*24*time.Hour))))
	psn := big.NewInt(0x7E57)
	platformPEM := selfSigned(t, platformKey, psn, "Tenpay.com sign", now.Add(-time.Hour), now.Add(365*24*time.Hour))
	platformFile := writeFile(t, "wechatpay_cert.pem", string(platformPEM))
	srv := &certServer{merchant: &merchantKey.PublicKey, mchID: v1MchID, serial: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", apiV3Key: testV3Key,
		platformKey: platformKey, platformCert: platformPEM, platformSN: "7E57", errKey: merchantKey, errSerial: v5PubKeyID}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	base := map[string]string{EnvMchID: v1MchID, EnvKeyFile: v3Dir + "k-off.pem", EnvCertFile: merchantCert, EnvAPIv3Key: testV3Key,
		EnvV3PubKeyID: v5PubKeyID, EnvV3PubKeyFile: v3Dir + "k-off.pub.pem", EnvV3PlatformCertFile: platformFile, EnvBaseURL: ts.URL}
	env := func(kv ...string) map[string]string { return with(base, kv...) }
	find := func(t *testing.T, res doctorResult, name string) check {
		t.Helper()
		for _, c := range res.Checks {
			if c.Name == name {
				return c
			}
		}
		t.Fatalf("no check %s in %+v", name, res.Checks)
		return check{}
	}
	doc := func(t *testing.T, env map[string]string, args ...string) (int, doctorResult) {
		t.Helper()
		code, out, errOut := run(t, env, "", append([]string{"doctor", "-v3", "-json"}, args...)...)
		var res doctorResult
		require.NoError(t, json.Unmarshal([]byte(out), &res), out+errOut)
		return code, res
	}

	code, res := doc(t, env())
	require.Equal(t, ExitOK, code, "%+v", res.Checks)
	assert.Contains(t, find(t, res, checkV3SerialNo).Message, "the private key is the certificate's, issued to mch_id "+v1MchID)
	assert.Contains(t, find(t, res, EnvAPIv3Key).Message, "format only")
	assert.Contains(t, find(t, res, checkV3Download).Message, "accepted the request's signature")
	assert.Contains(t, find(t, res, checkV3Download).Message, "opened 1 certificate(s): 7E57")

	for _, tc := range []struct {
		name, check, status, want string
		env                       map[string]string
		srv                       func()
	}{
		{name: "offline", check: checkV3Download, status: statusSkip, want: "-offline", env: env()},
		{name: "no base URL", check: checkV3Download, status: statusSkip, want: "set " + EnvBaseURL + "=https://api.mch.weixin.qq.com", env: env(EnvBaseURL, "")},
		{name: "http elsewhere", check: checkV3Download, status: statusFail, want: "only https", env: env(EnvBaseURL, "http://example.com")},
		{name: "wrong APIv3 key", check: checkV3Download, status: statusFail, want: "do not open under " + EnvAPIv3Key, env: env(EnvAPIv3Key, "Wrong000000000000000000000000000")},
		{name: "key not registered", check: checkV3Download, status: statusFail, want: "refused the request's signature (HTTP 401 SIGN_ERROR)", env: env(EnvKeyFile, v3Dir+"k-wgo.pem", EnvCertFile, "", EnvV3Serial, srv.serial)},
		{name: "public-key merchant", check: checkV3Download, status: statusWarn, want: "have no platform certificates", env: env(), srv: func() { srv.status = http.StatusNotFound }},
		{name: "unreachable", check: checkV3Download, status: statusFail, want: "not reachable", env: env(EnvBaseURL, "http://127.0.0.1:1")},
		{name: "key not the certificate's", check: checkV3SerialNo, status: statusFail, want: EnvKeyFile + " is not the key of " + EnvCertFile, env: env(EnvKeyFile, v3Dir+"k-wgo.pem")},
		{name: "serial only", check: checkV3SerialNo, status: statusOK, want: "format only: without " + EnvCertFile, env: env(EnvCertFile, "", EnvV3Serial, srv.serial)},
		{name: "certificate of another merchant", check: checkV3SerialNo, status: statusFail, want: "is issued to", env: env(EnvMchID, "1900000001")},
		{name: "no key", check: checkV3Key, status: statusFail, want: EnvKeyFile + " not set", env: env(EnvKeyFile, "")},
		{name: "APIv3 key short", check: EnvAPIv3Key, status: statusFail, want: "exactly 32 bytes", env: env(EnvAPIv3Key, v4APIv3Key)},
		{name: "APIv3 key is the v2 key", check: EnvAPIv3Key, status: statusFail, want: "equals " + EnvAPIKey, env: env(EnvAPIv3Key, docKey, EnvAPIKey, docKey)},
		{name: "APIv3 key unset", check: EnvAPIv3Key, status: statusFail, want: "not set", env: env(EnvAPIv3Key, "")},
		{name: "public key id wrong shape", check: EnvV3PubKeyID, status: statusFail, want: "not a public key id", env: env(EnvV3PubKeyID, v5APIv3Key)},
		{name: "public key file is a certificate", check: EnvV3PubKeyFile, status: statusFail, want: "the file is a PEM \"CERTIFICATE\"", env: env(EnvV3PubKeyFile, platformFile)},
		{name: "no WeChat key", check: checkV3Verify, status: statusFail, want: "no usable WeChat key", env: env(EnvV3PubKeyID, "", EnvV3PubKeyFile, "", EnvV3PlatformCertFile, "")},
		{name: "platform certificate expired", check: EnvV3PlatformCertFile, status: statusFail, want: "no certificate of the file is valid now",
			env: env(EnvV3PlatformCertFile, writeFile(t, "old.pem", string(selfSigned(t, platformKey, psn, "old", now.Add(-48*time.Hour), now.Add(-24*time.Hour)))))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.status = 0
			if tc.srv != nil {
				tc.srv()
			}
			var args []string
			if tc.name == "offline" {
				args = []string{"-offline"}
			}
			code, res := doc(t, tc.env, args...)
			c := find(t, res, tc.check)
			assert.Equal(t, tc.status, c.Status, c.Message)
			assert.Contains(t, c.Message, tc.want)
			assert.Equal(t, tc.status == statusFail, code == ExitFail, "%+v", res.Checks)
		})
	}
	srv.status = 0

	// The text form: one line per check, never a secret (run checks).
	code, out, _ := run(t, env(), "", "doctor", "-v3")
	assert.Equal(t, ExitOK, code)
	assert.Contains(t, out, "ok    "+EnvAPIv3Key)
	assert.Contains(t, out, "no problems found")
}

// -h prints each v3 form's usage on stdout and succeeds; a bad flag is a
// usage error.
func TestV3Help(t *testing.T) {
	for _, cmd := range []string{"sign", "verify", "doctor", "notify"} {
		code, out, _ := run(t, nil, "", cmd, "-v3", "-h")
		assert.Equal(t, ExitOK, code, cmd)
		assert.Contains(t, out, "Usage: wxpay "+cmd+" -v3", cmd)
		code, _, errOut := run(t, nil, "", cmd, "-v3", "-bogus")
		assert.Equal(t, ExitUsage, code, cmd)
		assert.Contains(t, errOut, "-bogus", cmd)
	}
	code, out, _ := run(t, nil, "", "-h")
	assert.Equal(t, ExitOK, code)
	for _, name := range []string{EnvAPIv3Key, EnvV3Serial, EnvV3PubKeyID, EnvV3PubKeyFile, EnvV3PlatformCertFile, EnvBaseURL, EnvV3WeChatPayKeyFile} {
		assert.Contains(t, out, name)
	}
}

// The v3 settings come from a -config file like the others: the APIv3
// key opens the notification, and a swapped line names the setting, never
// the key.
func TestV3ConfigFile(t *testing.T) {
	v5 := loadNotify(t, "notify-v5.json")
	args := append([]string{"verify", "-decrypt", "-at", strconv.FormatInt(v5.Now, 10)}, headerArgs(v5.Headers)...)
	cfg := writeFile(t, "wxpay.env", "# v3\nexport "+EnvAPIv3Key+"='"+v5APIv3Key+"'\n")
	code, out, _ := run(t, v5Env(EnvAPIv3Key, ""), v5.Body, append(args, "-config", cfg)...)
	require.Equal(t, ExitOK, code, out)
	assert.Contains(t, out, `"out_trade_no":"1217752501201407033233368018"`)

	cfg = writeFile(t, "swapped.env", v5APIv3Key+"="+EnvAPIv3Key+"\n")
	code, _, errOut := run(t, v5Env(EnvAPIv3Key, ""), v5.Body, append(args, "-config", cfg)...)
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "line 1: the value is the setting name "+EnvAPIv3Key)
}

func TestHumanAge(t *testing.T) {
	assert.Equal(t, "6m0s", humanAge(6*time.Minute))
	assert.Equal(t, "340 days", humanAge(340*24*time.Hour+time.Hour))
}

// FuzzSplitV3URL: the signed part is always a path starting with '/',
// without a fragment, braces, spaces or non-ASCII bytes, and a bare path
// is signed exactly as given.
func FuzzSplitV3URL(f *testing.F) {
	for _, s := range []string{"/v3/certificates?algorithm_type=RSA", "https://api.mch.weixin.qq.com/v3/x", "https://h?q=1", "http://h", "https://u@h/", "/v3/{x}", "/a#b", "v3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		base, uri, err := splitV3URL(raw)
		if err != nil {
			return
		}
		path, _, _ := strings.Cut(uri, "?")
		if !strings.HasPrefix(uri, "/") || strings.ContainsAny(uri, "#{} \x7f") || strings.Contains(path+"/", "/./") || strings.Contains(path+"/", "/../") {
			t.Fatalf("signed part %q", uri)
		}
		for i := 0; i < len(uri); i++ {
			if uri[i] < 0x20 || uri[i] >= 0x7f {
				t.Fatalf("signed part %q", uri)
			}
		}
		switch {
		case base == "" && uri != raw:
			t.Fatalf("bare path %q signed as %q", raw, uri)
		case base != "" && base+uri != raw && base+strings.TrimPrefix(uri, "/") != raw:
			t.Fatalf("%q split as %q + %q", raw, base, uri)
		}
	})
}

// signedByDocKey returns headers signing body now with the documentation
// key as the WeChat Pay public key of v5Env.
func signedByDocKey(t *testing.T, body string) map[string]string {
	t.Helper()
	key, err := apiv3.ParsePrivateKey(mustRead(t, v3Dir+"k-off.pem"))
	require.NoError(t, err)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	d := sha256.Sum256([]byte(ts + "\nN0NCE\n" + body + "\n"))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
	require.NoError(t, err)
	return map[string]string{"Wechatpay-Serial": v5PubKeyID, "Wechatpay-Timestamp": ts, "Wechatpay-Nonce": "N0NCE", "Wechatpay-Signature": base64.StdEncoding.EncodeToString(sig)}
}

// Bodies that are genuinely signed but malformed: -decrypt names the
// notification field or the algorithm, never panics, and prints no
// plaintext; a body over the bound is a usage error.
func TestVerifyV3MalformedBodies(t *testing.T) {
	v5 := loadNotify(t, "notify-v5.json")
	for _, tc := range []struct{ name, body, check, problem string }{
		{"no id", `{"create_time":"2026-01-02T15:04:06+08:00","event_type":"TRANSACTION.SUCCESS","resource":{"algorithm":"AEAD_AES_256_GCM","ciphertext":"AA==","nonce":"fdasflkja484"}}`, checkV3Fields, "id"},
		{"bad create_time", `{"id":"EV-1","create_time":"yesterday","event_type":"T","resource":{"algorithm":"AEAD_AES_256_GCM","ciphertext":"AA==","nonce":"fdasflkja484"}}`, checkV3Fields, "create_time"},
		{"resource null", `{"id":"EV-1","create_time":"2026-01-02T15:04:06+08:00","event_type":"T","resource":null}`, checkV3Fields, "resource"},
		{"other algorithm", `{"id":"EV-1","create_time":"2026-01-02T15:04:06+08:00","event_type":"T","resource":{"algorithm":"AES_128_CBC","ciphertext":"AA==","nonce":"fdasflkja484"}}`, checkV3Fields, "AEAD_AES_256_GCM"},
		{"duplicate key", `{"id":"EV-1","id":"EV-2","create_time":"2026-01-02T15:04:06+08:00","event_type":"T","resource":{"algorithm":"AEAD_AES_256_GCM","ciphertext":"AA==","nonce":"fdasflkja484"}}`, checkV3Fields, "malformed"},
		{"tampered ciphertext", strings.Replace(v5.Body, `"ciphertext":"vW8l`, `"ciphertext":"vW9l`, 1), checkV3Decrypt, "does not open"},
		{"not base64", strings.Replace(v5.Body, `"ciphertext":"vW8l`, `"ciphertext":"*W8l`, 1), checkV3Decrypt, "does not open"},
		{"short nonce", strings.Replace(v5.Body, `"nonce":"fdasflkja484"`, `"nonce":"fdas"`, 1), checkV3Decrypt, "does not open"},
		{"not JSON", `{"resource":`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"verify", "-json", "-decrypt"}, headerArgs(signedByDocKey(t, tc.body))...)
			code, out, errOut := run(t, v5Env(), tc.body, args...)
			var res verifyV3Result
			require.NoError(t, json.Unmarshal([]byte(out), &res), out+errOut)
			if tc.check == "" {
				// Not a notification: a signed answer, nothing to open.
				assert.Equal(t, ExitOK, code)
				assert.Equal(t, "answer", res.Kind)
				return
			}
			assert.Equal(t, ExitFail, code)
			assert.Equal(t, tc.check, res.Check)
			assert.Contains(t, res.Problem, tc.problem)
			assert.Empty(t, res.Plaintext)
		})
	}
	code, _, errOut := run(t, v5Env(), strings.Repeat(" ", maxSignBody+1), append([]string{"verify"}, headerArgs(v5.Headers)...)...)
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "longer than")
}
