package wxpaytest

import (
	"crypto/aes"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
)

func readNotify(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "notify", name))
	require.NoError(t, err)
	return b
}

// The fake encrypts req_info with its own code, not the library's, and
// that code is held to the published vectors (../testdata/notify/README.md):
// AES-256-ECB is deterministic, so encrypting the plaintext must give the
// published ciphertext byte for byte.
func TestEncryptReqInfoVectors(t *testing.T) {
	for _, v := range []struct{ id, key, plain, cipher string }{
		{"V5", "ziR0QKsTUfMOuochC9RfCdmfHECorQAP", "v5_plain.xml", "v5_req_info.txt"},
		{"S6", "exposed_your_key_here_have_risks", "s6_plain.xml", "s6_req_info.txt"},
	} {
		t.Run(v.id, func(t *testing.T) {
			got := encryptReqInfo(v.key, readNotify(t, v.plain))
			assert.Equal(t, string(readNotify(t, v.cipher)), got)
		})
	}
	// V6 (wechatpay-php AesEcbTest): "hello" under the ASCII key
	// 0123456789abcdef0123456789abcdef. encryptReqInfo derives its key
	// from an API key, so the vector is checked on the cipher step the
	// same way: one padded block.
	block, err := aes.NewCipher([]byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	buf := append([]byte("hello"), 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11)
	block.Encrypt(buf, buf)
	assert.Equal(t, "pZwJZBLuy3mDACEQT4YTBw==", base64.StdEncoding.EncodeToString(buf))
}

// rootXML lays fields out exactly as WeChat's sample plaintext (S6).
func TestRootXMLLayout(t *testing.T) {
	plain := readNotify(t, "s6_plain.xml")
	fields, err := decodeRoot(plain)
	require.NoError(t, err)
	require.Len(t, fields, 13)
	got, err := rootXML(fields)
	require.NoError(t, err)
	assert.Equal(t, string(plain), string(got))

	_, err = rootXML(wxpay.Params{"bad name": "x"})
	assert.Error(t, err)
	_, err = rootXML(wxpay.Params{"a": "]]>"})
	assert.Error(t, err)
}

// decodeRoot reads a <root> document through wxpay.DecodeXML by renaming
// its root element.
func decodeRoot(b []byte) (wxpay.Params, error) {
	s := string(b)
	s = "<xml>" + s[len("<root>"):len(s)-len("</root>\n")] + "</xml>"
	return wxpay.DecodeXML([]byte(s))
}
