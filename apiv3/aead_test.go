package apiv3

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// V3: wechatpay-java core/src/test/java/com/wechat/pay/java/core/cipher/AeadAesCipherTest.java
// (key from core/model/TestConfig.java), a real 32-byte APIv3 key.
const (
	v3Key   = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"
	v3Nonce = "uluk4a9R25RW"
	v3AAD   = "associatedData"
	v3CT    = "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI="
)

func TestOpenAEADVector(t *testing.T) {
	pt, err := openAEAD([]byte(v3Key), v3Nonce, v3AAD, v3CT)
	if err != nil {
		t.Fatalf("openAEAD(V3) = %v", err)
	}
	if string(pt) != "message" {
		t.Fatalf("openAEAD(V3) = %q, want %q", pt, "message")
	}
}

// sealForTest encrypts as WeChat does, for round trips and tamper tests.
func sealForTest(t testing.TB, key []byte, nonce, aad string, pt []byte) string {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(gcm.Seal(nil, []byte(nonce), pt, []byte(aad)))
}

func TestOpenAEADRefusals(t *testing.T) {
	// Flip one bit of the tag (the last byte of the decoded ciphertext).
	raw, _ := base64.StdEncoding.DecodeString(v3CT)
	badTag := append([]byte(nil), raw...)
	badTag[len(badTag)-1] ^= 1
	badBody := append([]byte(nil), raw...)
	badBody[0] ^= 0x80
	// The 16-byte key vectors from wechatpay-go (V3-neg), valid AES-128-GCM,
	// which a strict AEAD_AES_256_GCM implementation must refuse.
	const negKey, negNonce, negAAD, negCT = "testAPIv3Key0000", "wCq51qZv4Yfg",
		"Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8", "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC"
	// Sanity: the negative vector really is valid AES-128-GCM, so only the
	// key-length check refuses it.
	{
		b, _ := aes.NewCipher([]byte(negKey))
		g, _ := cipher.NewGCM(b)
		c, _ := base64.StdEncoding.DecodeString(negCT)
		if p, err := g.Open(nil, []byte(negNonce), c, []byte(negAAD)); err != nil || string(p) != "Hello World" {
			t.Fatalf("V3-neg is not the AES-128 vector it claims: %q %v", p, err)
		}
	}
	cases := []struct {
		name                string
		key                 string
		nonce, aad, cipherB string
	}{
		{"V3 wrong aad", v3Key, v3Nonce, "bad-associatedData", v3CT},
		{"V3 wrong nonce", v3Key, "bad-4a9R25RW", v3AAD, v3CT},
		{"V3 128 zero bytes", v3Key, v3Nonce, v3AAD, base64.StdEncoding.EncodeToString(make([]byte, 128))},
		{"V3-neg 16-byte key", negKey, negNonce, negAAD, negCT},
		{"tag flipped", v3Key, v3Nonce, v3AAD, base64.StdEncoding.EncodeToString(badTag)},
		{"ciphertext flipped", v3Key, v3Nonce, v3AAD, base64.StdEncoding.EncodeToString(badBody)},
		{"empty aad when one was used", v3Key, v3Nonce, "", v3CT},
		{"short key", v3Key[:31], v3Nonce, v3AAD, v3CT},
		{"long key", v3Key + "x", v3Nonce, v3AAD, v3CT},
		{"24-byte key", v3Key[:24], v3Nonce, v3AAD, v3CT},
		{"empty key", "", v3Nonce, v3AAD, v3CT},
		{"short nonce", v3Key, v3Nonce[:11], v3AAD, v3CT},
		{"long nonce", v3Key, v3Nonce + "x", v3AAD, v3CT},
		{"empty nonce", v3Key, "", v3AAD, v3CT},
		{"not base64", v3Key, v3Nonce, v3AAD, "!!!!" + v3CT[4:]},
		{"unpadded base64", v3Key, v3Nonce, v3AAD, strings.TrimRight(v3CT, "=")},
		{"url alphabet", v3Key, v3Nonce, v3AAD, strings.ReplaceAll(v3CT, "+", "-")},
		{"shorter than the tag", v3Key, v3Nonce, v3AAD, base64.StdEncoding.EncodeToString(raw[:15])},
		{"empty ciphertext", v3Key, v3Nonce, v3AAD, ""},
		{"truncated (tag cut)", v3Key, v3Nonce, v3AAD, base64.StdEncoding.EncodeToString(raw[:len(raw)-1])},
		{"oversized", v3Key, v3Nonce, v3AAD, strings.Repeat("A", maxAEADCiphertext+4)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := openAEAD([]byte(tc.key), tc.nonce, tc.aad, tc.cipherB)
			if err != ErrDecrypt { // the very value, not a wrapper: no oracle
				t.Fatalf("openAEAD = %q, %v; want exactly ErrDecrypt", pt, err)
			}
			if pt != nil {
				t.Fatalf("plaintext %q returned with an error", pt)
			}
		})
	}
}

func TestOpenAEADRoundTrip(t *testing.T) {
	key := []byte("0123456789abcdefghijABCDEFGHIJ01")
	for _, aad := range []string{"", "transaction", "certificate"} {
		ct := sealForTest(t, key, "fdasflkja484", aad, []byte(`{"a":1}`))
		pt, err := openAEAD(key, "fdasflkja484", aad, ct)
		if err != nil || string(pt) != `{"a":1}` {
			t.Fatalf("aad %q: %q, %v", aad, pt, err)
		}
	}
	if !errors.Is(ErrDecrypt, ErrDecrypt) || !strings.HasPrefix(ErrDecrypt.Error(), "apiv3: ") {
		t.Fatalf("ErrDecrypt text %q", ErrDecrypt)
	}
}

func FuzzOpenAEAD(f *testing.F) {
	f.Add([]byte(v3Key), v3Nonce, v3AAD, v3CT)
	f.Add([]byte("testAPIv3Key0000"), "wCq51qZv4Yfg", "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8", "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC")
	f.Add([]byte(v3Key), "", "", "")
	f.Fuzz(func(t *testing.T, key []byte, nonce, aad, ct string) {
		pt, err := openAEAD(key, nonce, aad, ct)
		if err != nil {
			if err != ErrDecrypt { // exactly the one value
				t.Fatalf("error %v is not ErrDecrypt", err)
			}
			if pt != nil {
				t.Fatal("plaintext with error")
			}
			return
		}
		// Success is only possible under a 32-byte key and 12-byte nonce,
		// and re-sealing must give the same ciphertext back.
		if len(key) != 32 || len(nonce) != 12 {
			t.Fatalf("opened with key %d nonce %d bytes", len(key), len(nonce))
		}
		if again := sealForTest(t, key, nonce, aad, pt); again != ct {
			t.Fatalf("re-seal %q != %q", again, ct)
		}
	})
}
