package miniprogram

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// UserInfo is the user profile inside the encryptedData of wx.getUserInfo
// (and the older button open-type="getUserInfo"). Field names follow the
// JSON keys WeChat uses.
//
// WeChat docs: https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/signature.html
//
// A UserInfo is what the mini program's client claims about the user, not
// an authenticated statement by WeChat (see [Client.DecryptUserInfo]):
// take the user's identity from the [Session], never from here.
type UserInfo struct {
	// OpenID identifies the user within this mini program.
	// [Client.DecryptUserInfo] only returns a UserInfo whose OpenID equals
	// [Session.OpenID].
	OpenID string `json:"openId"`
	// NickName is the user's WeChat nickname.
	NickName string `json:"nickName"`
	// Gender is 0 for unknown, 1 for male and 2 for female.
	Gender int `json:"gender"`
	// Language is the WeChat UI language, e.g. "zh_CN" or "en".
	Language string `json:"language"`
	// City is the city of the user's profile location, as free text
	// chosen by WeChat, e.g. "Guangzhou".
	City string `json:"city"`
	// Province is the province or state of the user's profile location,
	// as free text chosen by WeChat, e.g. "Guangdong".
	Province string `json:"province"`
	// Country is the country of the user's profile location as WeChat
	// gives it, e.g. "CN" or "China".
	Country string `json:"country"`
	// AvatarURL is the user's avatar image URL; empty if none.
	AvatarURL string `json:"avatarUrl"`
	// UnionID is present only when the app is bound to an Open Platform
	// account. When [Session.UnionID] is set too, [Client.DecryptUserInfo]
	// has checked that they are equal; prefer the session's value.
	UnionID string `json:"unionId"`
	// Watermark says which app the data was issued to and when;
	// [Client.DecryptUserInfo] has already checked its AppID.
	Watermark Watermark `json:"watermark"`
}

// Watermark is stamped by WeChat into every decrypted payload. AppID must
// equal the app that asked for the data; [Client.DecryptData] checks it.
type Watermark struct {
	// Timestamp is when WeChat produced the data, in Unix seconds; compare
	// it with the current time if you need freshness.
	Timestamp int64 `json:"timestamp"`
	// AppID is the mini program the data was issued to.
	AppID string `json:"appid"`
}

// Time returns Timestamp as a time.Time.
func (w Watermark) Time() time.Time { return time.Unix(w.Timestamp, 0) }

// DecryptData decrypts encryptedData that a mini-program API (for example
// wx.getUserInfo, or the legacy encrypted phone number) returned together
// with iv, using the user's sessionKey from [Client.Code2Session]. The
// result is the plaintext JSON, returned only after checking that it is a
// JSON object whose watermark.appid equals the client's AppID.
//
// All three arguments are standard base64 as WeChat sends them. If they
// travelled in a URL or form body, decode that encoding first: a '+' that
// became a space makes the input invalid.
//
// Errors: [ErrBadInput] for bad base64 (also wrapping
// *base64.CorruptInputError), a key or iv that is not 16 bytes, or empty or
// misaligned encryptedData; [ErrDecrypt] when the data does not decrypt to
// JSON (wrong key or iv, tampering, bad padding: one error for all, so no
// padding oracle); [ErrWatermark] when the watermark names another app or
// is missing. It needs no network and so takes no context.
//
// # Security
//
// A success does not prove the data is what WeChat issued. WeChat
// encrypts with AES-128-CBC and no MAC, and the iv reaches your server
// from the mini program, that is from the user's device. Whoever holds
// encryptedData and iv (the user, or anyone who can alter the request) can
// change the first 16 bytes of the plaintext to anything, without knowing
// the session key, by XORing the iv; later bytes can be changed too at the
// cost of garbling the block before them. The JSON and watermark checks
// catch most such edits, but not all: in a wx.getUserInfo payload the
// first block is {"openId":"xxxxx, so the openId can be rewritten and the
// watermark still passes. Decrypted data is therefore only as trustworthy
// as the client that sent it. Take the user's identity from the OpenID and
// UnionID of the [Session] that [Client.Code2Session] returned, never from
// decrypted data, and do not base authorization on decrypted fields. For
// user profiles use [Client.DecryptUserInfo], which checks the openId
// against the session; for phone numbers prefer [Client.GetPhoneNumber],
// which gets the number from WeChat over TLS.
//
// WeChat docs: https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/signature.html
func (c *Client) DecryptData(sessionKey, encryptedData, iv string) ([]byte, error) {
	plain, err := decryptData(sessionKey, encryptedData, iv)
	if err != nil {
		return nil, err
	}
	var probe struct {
		Watermark *Watermark `json:"watermark"`
	}
	if err := json.Unmarshal(plain, &probe); err != nil {
		return nil, fmt.Errorf("%w: plaintext is not a json object", ErrDecrypt)
	}
	if probe.Watermark == nil {
		return nil, fmt.Errorf("%w: no watermark", ErrWatermark)
	}
	if err := c.checkWatermark(probe.Watermark.AppID); err != nil {
		return nil, err
	}
	return plain, nil
}

// DecryptUserInfo decrypts the encryptedData and iv of wx.getUserInfo with
// sess.SessionKey, as [Client.DecryptData] does, decodes the plaintext into
// a [UserInfo] and checks that the profile belongs to sess: its openId
// must equal sess.OpenID, and when both the profile and sess carry a
// unionId they must be equal. sess is the [Session] that
// [Client.Code2Session] returned for this user (typically kept server-side
// since login).
//
// The identity check matters because the iv comes from the client and the
// cipher is malleable (see the Security section of [Client.DecryptData]):
// without it, anyone holding encryptedData and iv could turn the openId
// into another value and DecryptData would still accept the result. Even
// so, the other fields are only what the client claims: show them, but
// identify the user by sess.OpenID.
//
// Errors: those of DecryptData; [ErrBadInput] for a nil sess; an error
// mentioning "decode user info" for a field of the wrong type; and
// [ErrIdentity] when the openId is missing or differs from sess.OpenID, or
// the unionIds differ.
//
// WeChat docs: https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/signature.html
func (c *Client) DecryptUserInfo(sess *Session, encryptedData, iv string) (*UserInfo, error) {
	if sess == nil {
		return nil, fmt.Errorf("%w: nil session", ErrBadInput)
	}
	plain, err := c.DecryptData(sess.SessionKey, encryptedData, iv)
	if err != nil {
		return nil, err
	}
	var u UserInfo
	if err := json.Unmarshal(plain, &u); err != nil {
		// The watermark parsed, so this is a field of the wrong type.
		return nil, fmt.Errorf("miniprogram: decode user info: %w", err)
	}
	switch {
	case u.OpenID == "":
		return nil, fmt.Errorf("%w: no openId", ErrIdentity)
	case u.OpenID != sess.OpenID:
		return nil, fmt.Errorf("%w: openId differs from the session's", ErrIdentity)
	case u.UnionID != "" && sess.UnionID != "" && u.UnionID != sess.UnionID:
		return nil, fmt.Errorf("%w: unionId differs from the session's", ErrIdentity)
	}
	return &u, nil
}

func (c *Client) checkWatermark(appID string) error {
	if appID != c.appID {
		return fmt.Errorf("%w: data was issued to %q", ErrWatermark, truncate(appID, 64))
	}
	return nil
}

// decryptData base64-decodes its inputs and runs AES-128-CBC with strict
// PKCS#7 unpadding. It checks no JSON and no watermark.
func decryptData(sessionKey, encryptedData, iv string) ([]byte, error) {
	key, err := decodeField("session key", sessionKey, aes.BlockSize)
	if err != nil {
		return nil, err
	}
	ivb, err := decodeField("iv", iv, aes.BlockSize)
	if err != nil {
		return nil, err
	}
	ct, err := decodeField("encrypted data", encryptedData, 0)
	if err != nil {
		return nil, err
	}
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: encrypted data length %d is not a positive multiple of %d", ErrBadInput, len(ct), aes.BlockSize)
	}
	return decryptCBC(key, ivb, ct)
}

// decodeField decodes standard base64. If size > 0 the result must have
// exactly that many bytes. Messages name the field, never its value.
func decodeField(name, s string, size int) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty %s", ErrBadInput, name)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not valid base64: %w", ErrBadInput, name, err)
	}
	if size > 0 && len(b) != size {
		return nil, fmt.Errorf("%w: %s must decode to %d bytes, got %d", ErrBadInput, name, size, len(b))
	}
	return b, nil
}

// decryptCBC decrypts ct (a non-empty multiple of the block size) and
// removes PKCS#7 padding. The padding check runs in time independent of the
// padding value and fails with the same error as every other decryption
// failure.
func decryptCBC(key, iv, ct []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	if len(iv) != block.BlockSize() || len(ct) == 0 || len(ct)%block.BlockSize() != 0 {
		return nil, fmt.Errorf("%w: bad iv or ciphertext length", ErrBadInput)
	}
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, ct)
	n, ok := pkcs7Unpad(plain, block.BlockSize())
	if !ok {
		return nil, ErrDecrypt
	}
	return plain[:n], nil
}

// pkcs7Unpad returns the unpadded length of b, whose length is a positive
// multiple of blockSize (at most 255). The last byte p must be in
// 1..blockSize and the last p bytes must all equal p. It inspects the whole
// final block whatever p is, so timing does not reveal p.
func pkcs7Unpad(b []byte, blockSize int) (int, bool) {
	last := b[len(b)-blockSize:]
	p := int(last[blockSize-1])
	good := subtle.ConstantTimeLessOrEq(1, p) & subtle.ConstantTimeLessOrEq(p, blockSize)
	for i := 0; i < blockSize; i++ {
		// Byte i of the final block is padding iff i >= blockSize-p, that
		// is blockSize-i <= p (written so both operands are non-negative,
		// as ConstantTimeLessOrEq requires).
		inPad := subtle.ConstantTimeLessOrEq(blockSize-i, p)
		eq := subtle.ConstantTimeByteEq(last[i], byte(p))
		// Outside the padding anything goes; inside it must equal p.
		good &= eq | (inPad ^ 1)
	}
	if good != 1 {
		return 0, false
	}
	return len(b) - p, true
}

// VerifyRawData checks the signature the mini program sends with rawData
// (from wx.getUserInfo): signature must be the lowercase hex SHA-1 of
// rawData followed by sessionKey. It returns nil on a match and an error
// wrapping [ErrSignature] otherwise; the comparison is constant-time.
//
// Only the exact 40-character lowercase form WeChat produces is accepted,
// so an uppercase signature is rejected. sessionKey must be the base64
// session key from [Client.Code2Session]: an empty or malformed key is
// [ErrBadInput], because signatures under an empty key could be forged by
// anyone.
//
// A valid signature shows rawData was produced by someone holding the
// session key, but rawData carries no openId or app id. Identify the user
// by [Session.OpenID], and prefer [Client.DecryptUserInfo] when
// encryptedData is available: it checks the data against your AppID and
// the session's openId and carries a watermark timestamp you can check for
// freshness.
//
// WeChat docs: https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/signature.html
func VerifyRawData(rawData, signature, sessionKey string) error {
	if _, err := decodeField("session key", sessionKey, aes.BlockSize); err != nil {
		return err
	}
	sum := sha1.Sum([]byte(rawData + sessionKey))
	want := hex.EncodeToString(sum[:])
	// Lengths are public (always 40 for a valid signature), so
	// ConstantTimeCompare's early length check leaks nothing.
	if subtle.ConstantTimeCompare([]byte(signature), []byte(want)) != 1 {
		return fmt.Errorf("%w: rawData", ErrSignature)
	}
	return nil
}
