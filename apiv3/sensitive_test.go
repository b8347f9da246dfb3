package apiv3

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
)

type oaepVector struct {
	Ciphertext string `json:"ciphertext"`
	Plaintext  string `json:"plaintext"`
	Negative   string `json:"negative_ciphertext"`
}

// TestDecryptSensitiveV8 decrypts wechatpay-java's published OAEP
// ciphertext with its merchant key (k-wj.pem), the key newNotifyClient
// gives the merchant.
func TestDecryptSensitiveV8(t *testing.T) {
	var v oaepVector
	readJSONVector(t, "oaep-v8.json", &v)
	c := newNotifyClient(t, &testClock{t: testNow})
	got, err := c.DecryptSensitive(v.Ciphertext)
	if err != nil || got != v.Plaintext {
		t.Fatalf("DecryptSensitive(V8) = %q, %v; want %q", got, err, v.Plaintext)
	}
	raw, _ := base64.StdEncoding.DecodeString(v.Ciphertext)
	flipped := append([]byte(nil), raw...)
	flipped[100] ^= 1
	for name, ct := range map[string]string{
		"V8 negative (MTIzNA==)": v.Negative,
		"bit flipped":            base64.StdEncoding.EncodeToString(flipped),
		"not base64":             "!" + v.Ciphertext[1:],
		"unpadded":               strings.TrimRight(v.Ciphertext, "="),
		"one byte short":         base64.StdEncoding.EncodeToString(raw[:len(raw)-1]),
		"one byte long":          base64.StdEncoding.EncodeToString(append(append([]byte(nil), raw...), 0)),
		"empty":                  "",
		"huge":                   strings.Repeat("A", 1<<20),
		"PKCS#1 v1.5 ciphertext": pkcs1v15For(t, &rsaKeyFromPEM(t, readVector(t, "k-wj.pem")).PublicKey, "plaintext"),
	} {
		if got, err := c.DecryptSensitive(ct); err != ErrSensitiveDecrypt { // the very value: no padding oracle
			t.Errorf("%s: %q, %v; want ErrSensitiveDecrypt", name, got, err)
		}
	}
}

func pkcs1v15For(t *testing.T, pub *rsa.PublicKey, s string) string {
	ct, err := rsa.EncryptPKCS1v15(strings.NewReader(strings.Repeat("r", 4096)), pub, []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(ct)
}

// TestEncryptSensitive encrypts under the WeChat Pay public key (K-OFF's
// public half) and decrypts with K-OFF's private key by the standard
// library, as WeChat would.
func TestEncryptSensitive(t *testing.T) {
	c := newNotifyClient(t, &testClock{t: testNow})
	wxKey := rsaKeyFromPEM(t, readVector(t, "k-off.pem"))
	long := strings.Repeat("长", 71) // 213 bytes, under the 214-byte limit
	serial, cts, err := c.EncryptSensitive(context.Background(), "张三", "13800138000", "", long)
	if err != nil {
		t.Fatal(err)
	}
	if serial != v5PubKeyID {
		t.Fatalf("serial %q, want the public key id %q", serial, v5PubKeyID)
	}
	for i, want := range []string{"张三", "13800138000", "", long} {
		raw, err := base64.StdEncoding.DecodeString(cts[i])
		if err != nil || len(raw) != 256 {
			t.Fatalf("field %d: %v, %d bytes", i, err, len(raw))
		}
		pt, err := rsa.DecryptOAEP(sha1.New(), nil, wxKey, raw, nil)
		if err != nil || string(pt) != want {
			t.Fatalf("field %d: %q, %v", i, pt, err)
		}
	}
	// Randomised: the same text encrypts differently.
	_, again, _ := c.EncryptSensitive(context.Background(), "张三")
	if again[0] == cts[0] {
		t.Fatal("two encryptions of one text are equal")
	}
	// 215 bytes is one too many for RSA-2048 OAEP-SHA1.
	_, _, err = c.EncryptSensitive(context.Background(), "ok", strings.Repeat("x", 215))
	var tl *SensitiveTooLongError
	if !errors.As(err, &tl) || tl.Index != 1 || tl.Len != 215 || tl.Max != 214 {
		t.Fatalf("too long: %v", err)
	}
	if strings.Contains(err.Error(), "xxx") {
		t.Fatal("error quotes the plaintext")
	}
	// Round trip through the client's own decryption: a merchant key
	// that is also WeChat's (only in a test) opens what it encrypted.
	self, err := NewClient(Config{
		MchID: "1230000109", MerchantSerialNo: wjSerial, PrivateKey: readVector(t, "k-off.pem"),
		APIv3Key: v5APIv3Key, PublicKeyID: v5PubKeyID, PublicKey: readVector(t, "k-off.pub.pem"),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, cts, err = self.EncryptSensitive(context.Background(), "13800138000")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := self.DecryptSensitive(cts[0]); err != nil || got != "13800138000" {
		t.Fatalf("round trip: %q, %v", got, err)
	}
}

// signOnly is a crypto.Signer that cannot decrypt, as a sign-only KMS key.
type signOnly struct{ k *rsa.PrivateKey }

func (s signOnly) Public() crypto.PublicKey { return &s.k.PublicKey }
func (s signOnly) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return s.k.Sign(r, d, o)
}

// decrypter is a Signer that is also a Decrypter, as an HSM key may be.
type decrypter struct {
	signOnly
	calls *int
}

func (d decrypter) Decrypt(r io.Reader, ct []byte, o crypto.DecrypterOpts) ([]byte, error) {
	*d.calls++
	oo, ok := o.(*rsa.OAEPOptions)
	if !ok || oo.Hash != crypto.SHA1 {
		return nil, errors.New("expected OAEP with SHA-1")
	}
	return d.k.Decrypt(r, ct, o)
}

func TestDecryptSensitiveSigner(t *testing.T) {
	var v oaepVector
	readJSONVector(t, "oaep-v8.json", &v)
	k := rsaKeyFromPEM(t, readVector(t, "k-wj.pem"))
	cfg := Config{
		MchID: "1230000109", MerchantSerialNo: wjSerial,
		APIv3Key: v5APIv3Key, PublicKeyID: v5PubKeyID, PublicKey: readVector(t, "k-off.pub.pem"),
	}
	cfg.Signer = signOnly{k}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DecryptSensitive(v.Ciphertext); !errors.Is(err, ErrNoDecryptionKey) {
		t.Fatalf("sign-only Signer: %v, want ErrNoDecryptionKey", err)
	}
	calls := 0
	cfg.Signer = decrypter{signOnly{k}, &calls}
	c, err = NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.DecryptSensitive(v.Ciphertext); err != nil || got != v.Plaintext || calls != 1 {
		t.Fatalf("Decrypter Signer: %q, %v, %d calls", got, err, calls)
	}
}

func FuzzDecryptSensitive(f *testing.F) {
	var v oaepVector
	readJSONVector(f, "oaep-v8.json", &v)
	f.Add(v.Ciphertext)
	f.Add(v.Negative)
	f.Add("")
	c := newNotifyClient(f, &testClock{t: testNow})
	f.Fuzz(func(t *testing.T, ct string) {
		got, err := c.DecryptSensitive(ct)
		if err != nil {
			if err != ErrSensitiveDecrypt { // exactly the one value
				t.Fatalf("error %v", err)
			}
			return
		}
		if ct != v.Ciphertext || got != v.Plaintext {
			t.Fatalf("decrypted %q from a ciphertext other than the vector", got)
		}
	})
}
