package miniprogram

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
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
//
// WeChat docs: https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/signature.html
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
// wx.getUserInfo) returned together with iv, using the user's session key
// from [Client.Code2Session] (sess.SessionKey, or a stored key rebuilt
// with [ParseSessionKey]). The result is the plaintext JSON, returned only
// after checking that it is a JSON object whose watermark.appid equals the
// client's AppID.
//
// encryptedData and iv are standard base64 as WeChat sends them. If they
// travelled in a URL or form body, decode that encoding first: a '+' that
// became a space makes the input invalid.
//
// Errors: [ErrBadInput] for a zero or malformed key, bad base64 (also
// wrapping *base64.CorruptInputError), an iv that is not 16 bytes, or
// empty or misaligned encryptedData: all facts about the input's shape,
// which the sender knows anyway. After decryption, bad padding and a
// plaintext that is not a JSON object (wrong key or iv, tampering) are the
// one value [ErrDecrypt], produced by one code path whose padding check
// runs in constant time: the error cannot serve as a padding oracle.
// [ErrWatermark] follows only a valid decryption, when the watermark names
// another app or is missing. It needs no network and so takes no context.
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
// against the session.
//
// Phone numbers must come from [Client.GetPhoneNumber], which asks WeChat
// server to server over TLS, not from the legacy encrypted phone payload
// decrypted here: the client can forge that one.
//
// WeChat docs: https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/signature.html
func (c *Client) DecryptData(key SessionKey, encryptedData, iv string) ([]byte, error) {
	k, err := decodeField("session key", key.Reveal(), sessionKeySize)
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
	if len(ct)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: encrypted data length %d is not a positive multiple of %d", ErrBadInput, len(ct), aes.BlockSize)
	}
	plain, wm, ok := openCBC(k, ivb, ct)
	if !ok {
		return nil, ErrDecrypt
	}
	if wm == nil {
		return nil, fmt.Errorf("%w: no watermark", ErrWatermark)
	}
	if err := c.checkWatermark(wm.AppID); err != nil {
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
		return fmt.Errorf("%w: data was issued to %q", ErrWatermark, wire.Truncate(appID, 64))
	}
	return nil
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

// openCBC decrypts ct with AES-128-CBC, removes the PKCS#7 padding and
// checks that the rest is a JSON object, returning its watermark (nil if
// it has none). Every failure is the same false, decided once at the end:
// the padding check runs in constant time and the JSON check runs whether
// or not the padding was good (over the whole plaintext when it was not),
// so neither the result nor the path taken tells bad padding from bad
// JSON. That distinction is what a padding-oracle attack needs.
func openCBC(key, iv, ct []byte) ([]byte, *Watermark, bool) {
	block, err := aes.NewCipher(key)
	if err != nil || len(iv) != aes.BlockSize || len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, nil, false
	}
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, ct)
	n, padOK := wire.UnpadPKCS7(plain, aes.BlockSize)
	plain = plain[:n]
	wm, jsonOK := jsonObject(plain)
	if !padOK || !jsonOK {
		return nil, nil, false
	}
	return plain, wm, true
}

// jsonObject reports whether b is one JSON object and returns its
// watermark, if any. json.Unmarshal alone would accept null, and a
// watermark of the wrong type fails it too.
func jsonObject(b []byte) (*Watermark, bool) {
	var probe struct {
		Watermark *Watermark `json:"watermark"`
	}
	err := json.Unmarshal(b, &probe)
	t := bytes.TrimLeft(b, " \t\r\n")
	return probe.Watermark, err == nil && len(t) > 0 && t[0] == '{'
}

// VerifyRawData checks the signature the mini program sends with rawData
// (from wx.getUserInfo): signature must be the lowercase hex SHA-1 of
// rawData followed by the session key's text (as [SessionKey.Reveal]
// returns it). It returns nil on a match and an error wrapping
// [ErrSignature] otherwise; the comparison is constant-time.
//
// Only the exact 40-character lowercase form WeChat produces is accepted,
// so an uppercase signature is rejected. A zero or malformed key is
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
func VerifyRawData(rawData, signature string, key SessionKey) error {
	k := key.Reveal()
	if _, err := decodeField("session key", k, sessionKeySize); err != nil {
		return err
	}
	sum := sha1.Sum([]byte(rawData + k))
	want := hex.EncodeToString(sum[:])
	// Lengths are public (always 40 for a valid signature), so
	// ConstantTimeCompare's early length check leaks nothing.
	if subtle.ConstantTimeCompare([]byte(signature), []byte(want)) != 1 {
		return fmt.Errorf("%w: rawData", ErrSignature)
	}
	return nil
}
