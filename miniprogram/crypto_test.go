package miniprogram_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay/miniprogram"
)

// v8 is vector V8 (official WXBizDataCrypt demo); see testdata/README.md.
type v8Vector struct {
	AppID         string `json:"appid"`
	SessionKey    string `json:"session_key"`
	IV            string `json:"iv"`
	EncryptedData string `json:"encrypted_data"`
}

// v8OpenID and v8UnionID are what Code2Session returns for the V8 user.
const (
	v8OpenID  = "oGZUI0egBJY1zhBYw2KhdUfwVJJE"
	v8UnionID = "ocMvos6NjeKLIBqg5Mr9QjxrP1FA"
)

const v8PlainSHA256 = "3237d8a5dbd413523c194882c7156544d8a06e2afcc97383cc300c17bd09391b"

func loadV8(t *testing.T) (v8Vector, []byte) {
	t.Helper()
	b, err := os.ReadFile("testdata/demo_encrypteddata.json")
	require.NoError(t, err)
	var v v8Vector
	require.NoError(t, json.Unmarshal(b, &v))
	plain, err := os.ReadFile("testdata/demo_encrypteddata.plain.json")
	require.NoError(t, err)
	sum := sha256.Sum256(plain)
	require.Equal(t, v8PlainSHA256, hex.EncodeToString(sum[:]), "testdata plaintext was modified")
	require.Len(t, plain, 393)
	return v, plain
}

func newTestClient(t *testing.T, appID string) *miniprogram.Client {
	t.Helper()
	c, err := miniprogram.NewClient(appID, "0123456789abcdef0123456789abcdef")
	require.NoError(t, err)
	return c
}

// sk parses a session key the test knows to be well formed.
func sk(t *testing.T, s string) miniprogram.SessionKey {
	t.Helper()
	k, err := miniprogram.ParseSessionKey(s)
	require.NoError(t, err)
	return k
}

func TestDecryptDataV8(t *testing.T) {
	t.Parallel()
	v, plain := loadV8(t)
	c := newTestClient(t, v.AppID)

	got, err := c.DecryptData(sk(t, v.SessionKey), v.EncryptedData, v.IV)
	require.NoError(t, err)
	assert.Equal(t, plain, got, "byte-exact plaintext")
	sum := sha256.Sum256(got)
	assert.Equal(t, v8PlainSHA256, hex.EncodeToString(sum[:]))

	sess := &miniprogram.Session{OpenID: v8OpenID, UnionID: v8UnionID, SessionKey: sk(t, v.SessionKey)}
	info, err := c.DecryptUserInfo(sess, v.EncryptedData, v.IV)
	require.NoError(t, err)
	want := &miniprogram.UserInfo{
		OpenID:    "oGZUI0egBJY1zhBYw2KhdUfwVJJE",
		NickName:  "Band",
		Gender:    1,
		Language:  "zh_CN",
		City:      "Guangzhou",
		Province:  "Guangdong",
		Country:   "CN",
		AvatarURL: "http://wx.qlogo.cn/mmopen/vi_32/aSKcBBPpibyKNicHNTMM0qJVh8Kjgiak2AHWr8MHM4WgMEm7GFhsf8OYrySdbvAMvTsw3mo8ibKicsnfN5pRjl1p8HQ/0",
		UnionID:   "ocMvos6NjeKLIBqg5Mr9QjxrP1FA",
		Watermark: miniprogram.Watermark{Timestamp: 1477314187, AppID: "wx4f4bc4dec97d474b"},
	}
	if diff := cmp.Diff(want, info); diff != "" {
		t.Errorf("user info (-want +got):\n%s", diff)
	}
	assert.Equal(t, int64(1477314187), info.Watermark.Time().Unix())
}

// flipByte returns base64 s with byte i of its decoding XORed with mask.
func flipByte(t *testing.T, s string, i int, mask byte) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	if i < 0 {
		i += len(b)
	}
	b[i] ^= mask
	return base64.StdEncoding.EncodeToString(b)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestDecryptDataV8Tampered(t *testing.T) {
	t.Parallel()
	v, _ := loadV8(t)
	c := newTestClient(t, v.AppID)
	ct, err := base64.StdEncoding.DecodeString(v.EncryptedData)
	require.NoError(t, err)

	tests := []struct {
		name          string
		appID         string // client app id; v.AppID when empty
		key, data, iv string
		wantErr       error
		wantBase64    bool // also wraps *base64.CorruptInputError
	}{
		// Flipping a byte of block 0 garbles the "{" that opens the JSON.
		{name: "flipped first ciphertext byte", data: flipByte(t, v.EncryptedData, 0, 0x01), wantErr: miniprogram.ErrDecrypt},
		// Flipping the last byte of the second-to-last block flips the final
		// padding byte.
		{name: "flipped padding via previous block", data: flipByte(t, v.EncryptedData, -17, 0x01), wantErr: miniprogram.ErrDecrypt},
		{name: "flipped last ciphertext byte", data: flipByte(t, v.EncryptedData, -1, 0x80), wantErr: miniprogram.ErrDecrypt},
		{name: "truncated by one block", data: b64(ct[:len(ct)-16]), wantErr: miniprogram.ErrDecrypt},
		{name: "wrong session key", key: b64([]byte("0123456789abcdef")), wantErr: miniprogram.ErrDecrypt},
		{name: "session key of V9", key: "HyVFkGl5F5OQWJZZaNzBBg==", wantErr: miniprogram.ErrDecrypt},
		// iv only affects block 0: '{' ^ 0x01 = 'z', not JSON.
		{name: "wrong iv", iv: flipByte(t, v.IV, 0, 0x01), wantErr: miniprogram.ErrDecrypt},
		{name: "zero iv", iv: b64(make([]byte, 16)), wantErr: miniprogram.ErrDecrypt},
		{name: "other appid", appID: "wx0000000000000000", wantErr: miniprogram.ErrWatermark},
		{name: "bad base64 key", key: "tiihtNczf5v6AKRyjwEUh!==", wantErr: miniprogram.ErrBadInput, wantBase64: true},
		{name: "bad base64 iv", iv: "r7BXXKkLb8qrSNn05n0qi*==", wantErr: miniprogram.ErrBadInput, wantBase64: true},
		{name: "bad base64 data", data: v.EncryptedData[:len(v.EncryptedData)-3] + "$==", wantErr: miniprogram.ErrBadInput, wantBase64: true},
		{name: "url-decoded plus became space", data: strings.Replace(v.EncryptedData, "+", " ", 1), wantErr: miniprogram.ErrBadInput, wantBase64: true},
		{name: "url-safe alphabet", data: strings.NewReplacer("+", "-", "/", "_").Replace(v.EncryptedData), wantErr: miniprogram.ErrBadInput, wantBase64: true},
		{name: "key 24 bytes", key: b64([]byte("0123456789abcdef01234567")), wantErr: miniprogram.ErrBadInput},
		{name: "key 15 bytes", key: b64([]byte("0123456789abcde")), wantErr: miniprogram.ErrBadInput},
		{name: "iv 8 bytes", iv: b64([]byte("01234567")), wantErr: miniprogram.ErrBadInput},
		{name: "iv 32 bytes", iv: b64(make([]byte, 32)), wantErr: miniprogram.ErrBadInput},
		{name: "empty key", key: "-", wantErr: miniprogram.ErrBadInput},
		{name: "empty iv", iv: "-", wantErr: miniprogram.ErrBadInput},
		{name: "empty data", data: "-", wantErr: miniprogram.ErrBadInput},
		{name: "data decodes to nothing", data: "====", wantErr: miniprogram.ErrBadInput, wantBase64: true},
		{name: "data not multiple of 16", data: b64(ct[:len(ct)-1]), wantErr: miniprogram.ErrBadInput},
		{name: "data 15 bytes", data: b64(ct[:15]), wantErr: miniprogram.ErrBadInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key, data, iv, appID := v.SessionKey, v.EncryptedData, v.IV, v.AppID
			pick := func(dst *string, s string) {
				switch s {
				case "":
				case "-":
					*dst = ""
				default:
					*dst = s
				}
			}
			pick(&key, tt.key)
			pick(&data, tt.data)
			pick(&iv, tt.iv)
			pick(&appID, tt.appID)
			client := c
			if appID != v.AppID {
				client = newTestClient(t, appID)
			}

			// A malformed key is refused when it is parsed; a zero key
			// when it is used.
			var k miniprogram.SessionKey
			if key != "" {
				var err error
				k, err = miniprogram.ParseSessionKey(key)
				if err != nil {
					require.ErrorIs(t, err, tt.wantErr)
					var corrupt base64.CorruptInputError
					assert.Equal(t, tt.wantBase64, errors.As(err, &corrupt), "base64 cause: %v", err)
					assert.NotContains(t, err.Error(), key)
					return
				}
			}
			plain, err := client.DecryptData(k, data, iv)
			require.ErrorIs(t, err, tt.wantErr)
			assert.Nil(t, plain)
			var corrupt base64.CorruptInputError
			assert.Equal(t, tt.wantBase64, errors.As(err, &corrupt), "base64 cause: %v", err)
			for _, other := range []error{miniprogram.ErrDecrypt, miniprogram.ErrWatermark, miniprogram.ErrBadInput} {
				if other != tt.wantErr {
					assert.NotErrorIs(t, err, other)
				}
			}
			msg := err.Error()
			assert.True(t, strings.HasPrefix(msg, "miniprogram: "), msg)
			assert.NotContains(t, msg, v.SessionKey)
			if key != v.SessionKey && key != "" {
				assert.NotContains(t, msg, key)
			}

			info, err := client.DecryptUserInfo(&miniprogram.Session{OpenID: v8OpenID, SessionKey: k}, data, iv)
			require.ErrorIs(t, err, tt.wantErr)
			assert.Nil(t, info)
		})
	}
}

// encrypt produces encryptedData for plaintext the way WeChat does, so
// tests can build payloads with other contents.
func encrypt(t *testing.T, key, iv, plain []byte) string {
	t.Helper()
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	p := 16 - len(plain)%16
	padded := append(append([]byte(nil), plain...), []byte(strings.Repeat(string(rune(p)), p))...)
	out := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, padded)
	return b64(out)
}

func TestDecryptDataPlaintextShapes(t *testing.T) {
	t.Parallel()
	const appID = "wxd930ea5d5a258f4f"
	key := []byte("0123456789abcdef")
	iv := []byte("fedcba9876543210")
	c := newTestClient(t, appID)
	tests := []struct {
		name    string
		plain   string
		wantErr error
	}{
		{"watermark only", `{"watermark":{"appid":"wxd930ea5d5a258f4f","timestamp":1}}`, nil},
		{"exact block multiple gets a full pad block", `{"watermark":{"appid":"wxd930ea5d5a258f4f"},"x":"12"}`, nil},
		{"legacy phone payload", `{"phoneNumber":"13580006666","purePhoneNumber":"13580006666","countryCode":"86","watermark":{"appid":"wxd930ea5d5a258f4f","timestamp":1477314187}}`, nil},
		{"no watermark", `{"openId":"o"}`, miniprogram.ErrWatermark},
		{"null watermark", `{"watermark":null}`, miniprogram.ErrWatermark},
		{"empty appid", `{"watermark":{"appid":""}}`, miniprogram.ErrWatermark},
		{"appid differs in case", `{"watermark":{"appid":"WXD930EA5D5A258F4F"}}`, miniprogram.ErrWatermark},
		{"not json", `hello, world`, miniprogram.ErrDecrypt},
		{"json array", `[{"watermark":{"appid":"wxd930ea5d5a258f4f"}}]`, miniprogram.ErrDecrypt},
		{"json string", `"wxd930ea5d5a258f4f"`, miniprogram.ErrDecrypt},
		{"watermark wrong type", `{"watermark":"wxd930ea5d5a258f4f"}`, miniprogram.ErrDecrypt},
		{"empty plaintext", ``, miniprogram.ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.DecryptData(sk(t, b64(key)), encrypt(t, key, iv, []byte(tt.plain)), b64(iv))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.plain, string(got))
		})
	}

	// A legacy phone payload decrypts into PhoneInfo with a string country code.
	plain, err := c.DecryptData(sk(t, b64(key)), encrypt(t, key, iv, []byte(tests[2].plain)), b64(iv))
	require.NoError(t, err)
	var p miniprogram.PhoneInfo
	require.NoError(t, json.Unmarshal(plain, &p))
	assert.Equal(t, "86", p.CountryCode)

	// A valid watermark but a field of the wrong type fails in DecryptUserInfo
	// without being a decryption error.
	_, err = c.DecryptUserInfo(&miniprogram.Session{OpenID: "o", SessionKey: sk(t, b64(key))},
		encrypt(t, key, iv, []byte(`{"openId":"o","gender":"male","watermark":{"appid":"wxd930ea5d5a258f4f"}}`)), b64(iv))
	require.Error(t, err)
	assert.NotErrorIs(t, err, miniprogram.ErrDecrypt)
	assert.True(t, strings.HasPrefix(err.Error(), "miniprogram: decode user info: "), err.Error())
}

// xorIV returns iv (base64) XORed so that the first plaintext block, which
// is from under the old iv, decrypts to to instead.
func xorIV(t *testing.T, iv string, from, to string) string {
	t.Helper()
	require.Len(t, from, 16)
	require.Len(t, to, 16)
	b, err := base64.StdEncoding.DecodeString(iv)
	require.NoError(t, err)
	for i := range b {
		b[i] ^= from[i] ^ to[i]
	}
	return b64(b)
}

// TestDecryptUserInfoIVMalleability reproduces the attack that AES-CBC
// without a MAC allows: anyone holding encryptedData and iv (no session
// key needed) rewrites the first 16 plaintext bytes by XORing the iv.
// DecryptData accepts the result, since the JSON and the watermark are
// intact; DecryptUserInfo rejects it because the openId no longer matches
// the session.
func TestDecryptUserInfoIVMalleability(t *testing.T) {
	t.Parallel()
	v, plain := loadV8(t)
	c := newTestClient(t, v.AppID)
	sess := &miniprogram.Session{OpenID: v8OpenID, UnionID: v8UnionID, SessionKey: sk(t, v.SessionKey)}
	first := string(plain[:16])
	require.Equal(t, `{"openId":"oGZUI`, first)

	tests := []struct {
		name   string
		block  string // replacement for the first 16 plaintext bytes
		openID string // what DecryptData's plaintext then says
	}{
		{"other openid", `{"openId":"xHack`, "xHack0egBJY1zhBYw2KhdUfwVJJE"},
		{"same-looking openid", `{"openId":"oGZUJ`, "oGZUJ0egBJY1zhBYw2KhdUfwVJJE"},
		{"openid key renamed", `{"openIx":"oGZUI`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			forged := xorIV(t, v.IV, first, tt.block)

			// The low-level call accepts the forgery: valid JSON, valid
			// watermark, changed openId.
			got, err := c.DecryptData(sk(t, v.SessionKey), v.EncryptedData, forged)
			require.NoError(t, err, "DecryptData alone cannot detect the edit")
			assert.Equal(t, tt.block, string(got[:16]))
			assert.Equal(t, plain[16:], got[16:], "the rest is untouched")
			var probe struct {
				OpenID    string `json:"openId"`
				Watermark miniprogram.Watermark
			}
			require.NoError(t, json.Unmarshal(got, &probe))
			assert.Equal(t, tt.openID, probe.OpenID)
			assert.Equal(t, v.AppID, probe.Watermark.AppID)

			// DecryptUserInfo does not.
			info, err := c.DecryptUserInfo(sess, v.EncryptedData, forged)
			require.ErrorIs(t, err, miniprogram.ErrIdentity)
			assert.Nil(t, info)
			assert.NotContains(t, err.Error(), v.SessionKey)
		})
	}

	// Unchanged data still passes.
	info, err := c.DecryptUserInfo(sess, v.EncryptedData, v.IV)
	require.NoError(t, err)
	assert.Equal(t, v8OpenID, info.OpenID)
}

func TestDecryptUserInfoIdentity(t *testing.T) {
	t.Parallel()
	const appID = "wxd930ea5d5a258f4f"
	key := []byte("0123456789abcdef")
	iv := []byte("fedcba9876543210")
	c := newTestClient(t, appID)
	const wm = `"watermark":{"appid":"wxd930ea5d5a258f4f","timestamp":1}`
	tests := []struct {
		name    string
		plain   string
		sess    miniprogram.Session
		wantErr error
	}{
		{"match", `{"openId":"o1",` + wm + `}`, miniprogram.Session{OpenID: "o1"}, nil},
		{"match with unionid", `{"openId":"o1","unionId":"u1",` + wm + `}`, miniprogram.Session{OpenID: "o1", UnionID: "u1"}, nil},
		{"unionid only in profile", `{"openId":"o1","unionId":"u1",` + wm + `}`, miniprogram.Session{OpenID: "o1"}, nil},
		{"unionid only in session", `{"openId":"o1",` + wm + `}`, miniprogram.Session{OpenID: "o1", UnionID: "u1"}, nil},
		{"openid differs", `{"openId":"o2",` + wm + `}`, miniprogram.Session{OpenID: "o1"}, miniprogram.ErrIdentity},
		{"openid differs in case", `{"openId":"O1",` + wm + `}`, miniprogram.Session{OpenID: "o1"}, miniprogram.ErrIdentity},
		{"openid missing", `{` + wm + `}`, miniprogram.Session{OpenID: "o1"}, miniprogram.ErrIdentity},
		{"openid empty", `{"openId":"",` + wm + `}`, miniprogram.Session{OpenID: ""}, miniprogram.ErrIdentity},
		{"unionid differs", `{"openId":"o1","unionId":"u2",` + wm + `}`, miniprogram.Session{OpenID: "o1", UnionID: "u1"}, miniprogram.ErrIdentity},
		{"other app", `{"openId":"o1","watermark":{"appid":"wx0000000000000000"}}`, miniprogram.Session{OpenID: "o1"}, miniprogram.ErrWatermark},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sess := tt.sess
			sess.SessionKey = sk(t, b64(key))
			info, err := c.DecryptUserInfo(&sess, encrypt(t, key, iv, []byte(tt.plain)), b64(iv))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Nil(t, info)
				for _, other := range []error{miniprogram.ErrDecrypt, miniprogram.ErrWatermark, miniprogram.ErrIdentity, miniprogram.ErrBadInput} {
					if other != tt.wantErr {
						assert.NotErrorIs(t, err, other)
					}
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.sess.OpenID, info.OpenID)
		})
	}

	_, err := c.DecryptUserInfo(nil, encrypt(t, key, iv, []byte(`{"openId":"o1",`+wm+`}`)), b64(iv))
	require.ErrorIs(t, err, miniprogram.ErrBadInput)
}

// V9: rawData signature from the official signature page.
const (
	v9RawData    = `{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0"}`
	v9SessionKey = "HyVFkGl5F5OQWJZZaNzBBg=="
	v9Signature  = "75e81ceda165f4ffa64f4068af58c64b8f54b88c"
)

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestVerifyRawDataV9(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		sig     string
		key     string
		wantErr error
	}{
		{"official vector", v9RawData, v9Signature, v9SessionKey, nil},
		{"tampered rawData", strings.Replace(v9RawData, `"gender":1`, `"gender":2`, 1), v9Signature, v9SessionKey, miniprogram.ErrSignature},
		{"trailing space in rawData", v9RawData + " ", v9Signature, v9SessionKey, miniprogram.ErrSignature},
		{"tampered signature", v9RawData, "75e81ceda165f4ffa64f4068af58c64b8f54b88d", v9SessionKey, miniprogram.ErrSignature},
		{"uppercase signature", v9RawData, strings.ToUpper(v9Signature), v9SessionKey, miniprogram.ErrSignature},
		{"truncated signature", v9RawData, v9Signature[:39], v9SessionKey, miniprogram.ErrSignature},
		{"signature with prefix", v9RawData, "sha1=" + v9Signature, v9SessionKey, miniprogram.ErrSignature},
		{"empty signature", v9RawData, "", v9SessionKey, miniprogram.ErrSignature},
		{"wrong session key", v9RawData, v9Signature, "tiihtNczf5v6AKRyjwEUhQ==", miniprogram.ErrSignature},
		{"sha1 of rawData without key", v9RawData, sha1Hex(v9RawData), v9SessionKey, miniprogram.ErrSignature},
		{"key before rawData", v9RawData, sha1Hex(v9SessionKey + v9RawData), v9SessionKey, miniprogram.ErrSignature},
		{"empty session key", v9RawData, v9Signature, "", miniprogram.ErrBadInput},
		{"session key not base64", v9RawData, v9Signature, "HyVFkGl5F5OQWJZZaNzBB!==", miniprogram.ErrBadInput},
		{"session key wrong length", v9RawData, v9Signature, "HyVFkGl5F5OQWJZZ", miniprogram.ErrBadInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var k miniprogram.SessionKey
			if tt.key != "" {
				var err error
				if k, err = miniprogram.ParseSessionKey(tt.key); err != nil {
					// A malformed key is refused when it is parsed.
					require.ErrorIs(t, err, tt.wantErr)
					assert.NotContains(t, err.Error(), tt.key)
					return
				}
			}
			err := miniprogram.VerifyRawData(tt.raw, tt.sig, k)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			if tt.key != "" {
				assert.NotContains(t, err.Error(), tt.key)
			}
			assert.NotContains(t, err.Error(), v9Signature, "expected signature must not leak")
		})
	}
}

// truth decrypts as the test (which knows the key) and says whether the
// padding is valid and whether the unpadded text is a JSON object: the two
// facts a padding-oracle attacker tries to tell apart.
func truth(t *testing.T, key, iv, ct []byte) (padOK, object bool) {
	t.Helper()
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	p := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(p, ct)
	n := int(p[len(p)-1])
	if n == 0 || n > 16 {
		return false, false
	}
	for _, c := range p[len(p)-n:] {
		if int(c) != n {
			return false, false
		}
	}
	var m map[string]json.RawMessage
	return true, json.Unmarshal(p[:len(p)-n], &m) == nil && m != nil
}

// TestDecryptDataNoPaddingOracle plays the attacker of the classic CBC
// padding-oracle attack: without the session key, it edits the byte
// before the padding (an iv byte for a one-block message, the previous
// ciphertext block otherwise) through all 256 values and watches the
// error. The attack needs bad padding to answer differently from good
// padding over a garbled plaintext; here both are the one value
// ErrDecrypt with one text, so the answers carry no signal. The test
// checks, with the key it knows, that both kinds of plaintext were really
// produced.
func TestDecryptDataNoPaddingOracle(t *testing.T) {
	t.Parallel()
	const appID = "wxd930ea5d5a258f4f"
	key := []byte("0123456789abcdef")
	iv := []byte("fedcba9876543210")
	c := newTestClient(t, appID)
	k := sk(t, b64(key))

	messages := map[string]string{
		"one block":  `{"a":1}`,
		"phone":      `{"phoneNumber":"13800138000","purePhoneNumber":"13800138000","countryCode":"86","watermark":{"appid":"wxd930ea5d5a258f4f","timestamp":1}}`,
		"user info":  `{"openId":"oGZUI0egBJY1zhBYw2KhdUfwVJJE","watermark":{"appid":"wxd930ea5d5a258f4f","timestamp":1}}`,
		"full block": `{"watermark":{"appid":"wxd930ea5d5a258f4f"},"x":"12"}`,
	}
	for name, plain := range messages {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ct, err := base64.StdEncoding.DecodeString(encrypt(t, key, iv, []byte(plain)))
			require.NoError(t, err)
			var badPad, goodPadNotObject int
			answers := map[string]int{}
			// Every position of the block the attacker controls, every value.
			for pos := range 16 {
				for g := 1; g < 256; g++ {
					ivb, data := append([]byte(nil), iv...), append([]byte(nil), ct...)
					if len(ct) == 16 {
						ivb[pos] ^= byte(g)
					} else {
						data[len(data)-32+pos] ^= byte(g)
					}
					padOK, object := truth(t, key, ivb, data)
					_, err := c.DecryptData(k, b64(data), b64(ivb))
					if padOK && object {
						continue // decrypted: later checks may answer (watermark, identity)
					}
					if !padOK {
						badPad++
					} else {
						goodPadNotObject++
					}
					require.Error(t, err)
					require.Same(t, miniprogram.ErrDecrypt, err, "one error value, not a wrapped variant")
					if pos == 15 {
						answers[err.Error()]++
					}
				}
			}
			assert.Positive(t, badPad, "no bad padding produced")
			assert.Positive(t, goodPadNotObject, "no good padding over a garbled plaintext produced")
			assert.Len(t, answers, 1, "the last-byte sweep must give the attacker one answer: %v", answers)
		})
	}
}
