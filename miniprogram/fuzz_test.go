package miniprogram

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzDecryptData checks that decryption never panics, fails only with the
// documented sentinels, and returns plaintext only when it is exactly what
// the ciphertext encrypts (re-encrypting gives the input back) and carries
// this app's watermark.
func FuzzDecryptData(f *testing.F) {
	var v struct {
		AppID         string `json:"appid"`
		SessionKey    string `json:"session_key"`
		IV            string `json:"iv"`
		EncryptedData string `json:"encrypted_data"`
	}
	b, err := os.ReadFile("testdata/demo_encrypteddata.json")
	if err != nil {
		f.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		f.Fatal(err)
	}
	f.Add(v.SessionKey, v.EncryptedData, v.IV)
	f.Add(v.SessionKey, v.EncryptedData[:len(v.EncryptedData)-24]+"AAAAAAAAAAAAAAAAAAAAAA==", v.IV)
	f.Add("HyVFkGl5F5OQWJZZaNzBBg==", v.EncryptedData, v.IV)
	f.Add(v.SessionKey, "AAAAAAAAAAAAAAAAAAAAAA==", v.IV)
	f.Add("", "", "")
	f.Add("!!!!", "====", "\x00")
	f.Add(v.SessionKey, v.EncryptedData, "AAAAAAAAAAAA")

	c, err := NewClient(v.AppID, testSecret)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, key, data, iv string) {
		plain, err := c.DecryptData(SessionKey{newSecret(key)}, data, iv)
		if err != nil {
			if plain != nil {
				t.Fatalf("plaintext returned with error %v", err)
			}
			if !errors.Is(err, ErrBadInput) && !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrWatermark) {
				t.Fatalf("undocumented error: %v", err)
			}
			// A well-formed key (24 base64 characters) can never occur in
			// our fixed message texts by accident, so any hit is a leak.
			if k, kerr := base64.StdEncoding.DecodeString(key); kerr == nil && len(k) == 16 && strings.Contains(err.Error(), key) {
				t.Fatalf("error leaks the session key: %v", err)
			}
			return
		}
		var probe struct {
			Watermark struct {
				AppID string `json:"appid"`
			} `json:"watermark"`
		}
		if json.Unmarshal(plain, &probe) != nil || probe.Watermark.AppID != v.AppID {
			t.Fatalf("accepted plaintext without a valid watermark: %q", plain)
		}
		k, _ := base64.StdEncoding.DecodeString(key)
		ivb, _ := base64.StdEncoding.DecodeString(iv)
		ct, _ := base64.StdEncoding.DecodeString(data)
		if got := encryptCBC(t, k, ivb, plain); !bytes.Equal(got, ct) {
			t.Fatalf("plaintext does not re-encrypt to the input")
		}
	})
}

// encryptCBC is the inverse of decryptCBC: PKCS#7 pad, then AES-CBC.
func encryptCBC(t *testing.T, key, iv, plain []byte) []byte {
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	p := aes.BlockSize - len(plain)%aes.BlockSize
	padded := append(append([]byte(nil), plain...), bytes.Repeat([]byte{byte(p)}, p)...)
	out := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, padded)
	return out
}

// FuzzDecryptCBC drives the block-level decrypter with arbitrary bytes: it
// must never panic, and whatever it accepts must be a JSON object that
// round-trips.
func FuzzDecryptCBC(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), []byte("fedcba9876543210"), bytes.Repeat([]byte{0}, 32))
	f.Add([]byte("0123456789abcdef"), []byte("fedcba9876543210"), []byte{})
	f.Add([]byte("short"), []byte("iv"), []byte("x"))
	f.Fuzz(func(t *testing.T, key, iv, ct []byte) {
		plain, wm, ok := openCBC(key, iv, ct)
		if !ok {
			if plain != nil || wm != nil {
				t.Fatal("plaintext returned with failure")
			}
			return
		}
		if !json.Valid(plain) || bytes.TrimLeft(plain, " \t\r\n")[0] != '{' {
			t.Fatalf("accepted plaintext that is not a json object: %q", plain)
		}
		if !bytes.Equal(encryptCBC(t, key, iv, plain), ct) {
			t.Fatal("accepted plaintext does not round-trip")
		}
	})
}

// FuzzDecodeSession feeds arbitrary responses to the code2session decoder:
// it must never panic, must return either a complete session or an *Error,
// and must reject every non-2xx status.
func FuzzDecodeSession(f *testing.F) {
	f.Add(200, "application/json", []byte(`{"openid":"o","session_key":"k","unionid":"u"}`))
	f.Add(200, "application/json", []byte(`{"openid":"o","session_key":"k","errcode":0,"errmsg":"ok"}`))
	f.Add(200, "application/json", []byte(`{"errcode":40029,"errmsg":"invalid code"}`))
	f.Add(200, "application/json", []byte(`{"errcode":"45011","errmsg":"limit"}`))
	f.Add(200, "text/html", []byte(`<html>502</html>`))
	f.Add(502, "text/html", []byte(`<html>502</html>`))
	f.Add(500, "application/json", []byte(`{"errcode":-1}`))
	f.Add(200, "", []byte(`null`))
	f.Add(200, "", []byte(`{"openid":1e999}`))
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		s, err := decodeSession(&response{status: status, contentType: contentType, body: body}, scrubber(testSecret))
		if err != nil {
			var e *Error
			if s != nil || !errors.As(err, &e) || e.Op != "code2session" {
				t.Fatalf("bad failure: session %v, err %v", s, err)
			}
			if !strings.HasPrefix(err.Error(), "miniprogram: code2session") {
				t.Fatalf("bad message %q", err)
			}
			return
		}
		if status < 200 || status > 299 {
			t.Fatalf("accepted status %d", status)
		}
		if s.OpenID == "" || s.SessionKey.IsZero() {
			t.Fatalf("incomplete session accepted: %+v", s)
		}
	})
}

// FuzzDecodeToken checks the token decoder: no panics, and any accepted
// token is non-empty with a positive lifetime.
func FuzzDecodeToken(f *testing.F) {
	f.Add(200, []byte(`{"access_token":"A","expires_in":7200}`))
	f.Add(200, []byte(`{"access_token":"A","expires_in":"7200"}`))
	f.Add(200, []byte(`{"access_token":"A","expires_in":0}`))
	f.Add(200, []byte(`{"errcode":40013,"errmsg":"invalid appid"}`))
	f.Add(503, []byte(``))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		tok, ttl, err := decodeToken("token", &response{status: status, body: body}, scrubber(testSecret))
		if err != nil {
			var e *Error
			if tok != "" || !errors.As(err, &e) {
				t.Fatalf("bad failure: %q %v", tok, err)
			}
			return
		}
		if tok == "" || ttl <= 0 || status < 200 || status > 299 {
			t.Fatalf("accepted token %q ttl %v status %d", tok, ttl, status)
		}
	})
}

// FuzzDecodePhone checks the phone decoder, including PhoneInfo's custom
// countryCode handling.
func FuzzDecodePhone(f *testing.F) {
	f.Add([]byte(`{"errcode":0,"phone_info":{"phoneNumber":"1","purePhoneNumber":"1","countryCode":86}}`))
	f.Add([]byte(`{"phone_info":{"phoneNumber":"1","countryCode":"86","watermark":{"appid":"a","timestamp":1}}}`))
	f.Add([]byte(`{"phone_info":{"phoneNumber":"1","countryCode":8.6}}`))
	f.Add([]byte(`{"errcode":40029,"errmsg":"invalid code"}`))
	f.Add([]byte(`{"phone_info":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodePhone(&response{status: 200, body: body}, scrubber(testSecret))
		if err != nil {
			var e *Error
			if p != nil || !errors.As(err, &e) {
				t.Fatalf("bad failure: %v %v", p, err)
			}
			return
		}
		if p.PhoneNumber == "" {
			t.Fatal("accepted empty phone number")
		}
	})
}

// FuzzVerifyRawData checks that a signature is accepted only if it is the
// lowercase hex SHA-1 of rawData+sessionKey under a well-formed key.
func FuzzVerifyRawData(f *testing.F) {
	const raw = `{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0"}`
	f.Add(raw, "75e81ceda165f4ffa64f4068af58c64b8f54b88c", "HyVFkGl5F5OQWJZZaNzBBg==")
	f.Add(raw, "75E81CEDA165F4FFA64F4068AF58C64B8F54B88C", "HyVFkGl5F5OQWJZZaNzBBg==")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, rawData, signature, sessionKey string) {
		err := VerifyRawData(rawData, signature, SessionKey{newSecret(sessionKey)})
		if err != nil {
			if !errors.Is(err, ErrSignature) && !errors.Is(err, ErrBadInput) {
				t.Fatalf("undocumented error: %v", err)
			}
			return
		}
		k, kerr := base64.StdEncoding.DecodeString(sessionKey)
		sum := sha1.Sum([]byte(rawData + sessionKey))
		if kerr != nil || len(k) != 16 || signature != hex.EncodeToString(sum[:]) {
			t.Fatalf("accepted bad signature %q for key %q", signature, sessionKey)
		}
	})
}

// FuzzErrorString checks that whatever WeChat puts in errmsg (and whatever
// a caller puts in Op), Error() is one line of valid UTF-8 with no control
// or bidi characters and a bounded length.
func FuzzErrorString(f *testing.F) {
	f.Add("token", "busy\nlevel=ERROR msg=forged")
	f.Add("code2session", "a\x00\x1b[31m\u202e\u2028\xff")
	f.Add("x", strings.Repeat("é", 300))
	f.Fuzz(func(t *testing.T, op, msg string) {
		out := (&Error{Op: op, StatusCode: 500, Code: -1, Message: msg}).Error()
		if !utf8.ValidString(out) {
			t.Fatalf("invalid utf-8: %q", out)
		}
		for _, r := range out {
			if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp, unicode.Bidi_Control) {
				t.Fatalf("unsafe rune %U in %q", r, out)
			}
		}
		if len(out) > 100+2*(maxMessageLen+len("…")) {
			t.Fatalf("too long: %d bytes", len(out))
		}
	})
}
