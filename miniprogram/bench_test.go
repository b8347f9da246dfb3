package miniprogram

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"os"
	"testing"
)

// BenchmarkDecryptData measures the official V8 payload beside its floor:
// the same standard-library work (three base64 decodes, AES-CBC, a JSON
// decode of the watermark) with no checks of our own.
func BenchmarkDecryptData(b *testing.B) {
	var v struct {
		AppID         string `json:"appid"`
		SessionKey    string `json:"session_key"`
		IV            string `json:"iv"`
		EncryptedData string `json:"encrypted_data"`
	}
	raw, err := os.ReadFile("testdata/demo_encrypteddata.json")
	if err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		b.Fatal(err)
	}
	c, err := NewClient(v.AppID, testSecret)
	if err != nil {
		b.Fatal(err)
	}
	key, err := ParseSessionKey(v.SessionKey)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("DecryptData", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := c.DecryptData(key, v.EncryptedData, v.IV); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("floor=stdlib", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			k, _ := base64.StdEncoding.DecodeString(v.SessionKey)
			iv, _ := base64.StdEncoding.DecodeString(v.IV)
			ct, _ := base64.StdEncoding.DecodeString(v.EncryptedData)
			block, err := aes.NewCipher(k)
			if err != nil {
				b.Fatal(err)
			}
			plain := make([]byte, len(ct))
			cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, ct)
			plain = plain[:len(plain)-int(plain[len(plain)-1])]
			var probe struct {
				Watermark *Watermark `json:"watermark"`
			}
			if err := json.Unmarshal(plain, &probe); err != nil || probe.Watermark == nil {
				b.Fatal("floor failed")
			}
		}
	})
}
