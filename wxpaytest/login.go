package wxpaytest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// loginRoutes are the mini-program endpoints, and the fake's own that
// play the mini-program's side (wx.login, a getPhoneNumber button).
var loginRoutes = []route{
	{path: EndpointCode2Session, proto: protoMini, secret: true, mini: (*Fake).code2Session},
	{path: EndpointToken, proto: protoMini, secret: true, mini: (*Fake).token},
	{path: EndpointStableToken, proto: protoMini, secret: true, mini: (*Fake).stableToken},
	{path: EndpointPhoneNumber, proto: protoMini, secret: true, mini: (*Fake).phoneNumber},
	{path: "/wxpaytest/login", proto: protoRaw, serve: (*Fake).serveLogin},
	{path: "/wxpaytest/phonecode", proto: protoRaw, serve: (*Fake).serveLoginPhone},
}

// CodeLife is how long a login code or a phone code stays valid, in the
// fake's time. Each is accepted once.
const CodeLife = 5 * time.Minute

// TokenLife is the life of an access token, in the fake's time
// (expires_in 7200).
const TokenLife = 2 * time.Hour

// Code2SessionPerMinute is how many code2session calls one user may make
// per minute (fake time) before WeChat answers 45011.
const Code2SessionPerMinute = 100

// Mini-program endpoints, JSON, served when Config.AppSecret is set.
const (
	// EndpointCode2Session (GET) exchanges a login code:
	// https://developers.weixin.qq.com/miniprogram/dev/server/API/user-login/api_code2session
	EndpointCode2Session Endpoint = "/sns/jscode2session"
	// EndpointToken (GET) issues an access token:
	// https://mp.weixin.qq.com/debug/minigame/dev/api-backend/auth.getAccessToken.html
	EndpointToken Endpoint = "/cgi-bin/token"
	// EndpointStableToken (POST) issues the stable access token:
	// https://developers.weixin.qq.com/doc/service/api/base/api_getstableaccesstoken
	EndpointStableToken Endpoint = "/cgi-bin/stable_token"
	// EndpointPhoneNumber (POST) exchanges a phone code:
	// https://developers.weixin.qq.com/miniprogram/dev/server/API/user-info/phone-number/api_getphonenumber
	EndpointPhoneNumber Endpoint = "/wxa/business/getuserphonenumber"
)

// userBook is the users domain: users, their login and phone codes, and
// the access tokens, under their own lock.
type userBook struct {
	mu         sync.Mutex
	users      map[string]*user      // by openid
	codes      map[string]*loginCode // by js_code
	phoneCodes map[string]*phoneCode
	tokens     map[string]time.Time // access token -> expiry (fake time)
	lastToken  string               // newest /cgi-bin/token token
	stable     string               // current stable_token
}

func newUserBook() *userBook {
	return &userBook{
		users:      make(map[string]*user),
		codes:      make(map[string]*loginCode),
		phoneCodes: make(map[string]*phoneCode),
		tokens:     make(map[string]time.Time),
	}
}

type user struct {
	openID     string
	sessionKey []byte // nil until a code is exchanged
	calls      []time.Time
}

type loginCode struct {
	openID string
	issued time.Time
	used   bool
}

type phoneCode struct {
	openID string
	phone  string
	issued time.Time
	used   bool
}

func newOpenID() string { return "o" + randAlnum(27) }

func (b *userBook) userLocked(openID string) *user {
	if openID == "" {
		openID = newOpenID()
	}
	u := b.users[openID]
	if u == nil {
		u = &user{openID: openID}
		b.users[openID] = u
	}
	return u
}

// LoginCode mints a login code for the user with this openid, as wx.login
// hands one to the mini-program; "" (or an openid the fake has not seen)
// creates the user. code2session accepts the code once, within
// [CodeLife], and gives the user a new session key.
//
// WeChat docs: https://developers.weixin.qq.com/miniprogram/dev/server/API/user-login/api_code2session
func (f *Fake) LoginCode(openID string) string {
	code, _ := f.login(openID)
	return code
}

func (f *Fake) login(openID string) (code, openid string) {
	now := f.Now()
	f.users.mu.Lock()
	defer f.users.mu.Unlock()
	u := f.users.userLocked(openID)
	code = randAlnum(32)
	f.users.codes[code] = &loginCode{openID: u.openID, issued: now}
	return code, u.openID
}

// PhoneCode mints the code a getPhoneNumber button hands the mini-program
// for the user's phone number. phone is the number as WeChat gives it:
// "13800138000" for mainland numbers (country code 86), or "+1 5551234567"
// with the country code and a space. getuserphonenumber accepts the code
// once, within [CodeLife].
//
// WeChat docs: https://developers.weixin.qq.com/miniprogram/dev/server/API/user-info/phone-number/api_getphonenumber
func (f *Fake) PhoneCode(openID, phone string) string {
	now := f.Now()
	f.users.mu.Lock()
	defer f.users.mu.Unlock()
	u := f.users.userLocked(openID)
	code := randAlnum(32)
	f.users.phoneCodes[code] = &phoneCode{openID: u.openID, phone: phone, issued: now}
	return code
}

// Profile is the user profile of wx.getUserInfo, which [Fake.UserInfo]
// encrypts.
type Profile struct {
	// NickName is the user's WeChat nickname (nickName).
	NickName string
	// Gender is 0 unknown, 1 male, 2 female.
	Gender int
	// Language is the language of the following names, such as "zh_CN"
	// or "en".
	Language string
	// City, Province and Country are where the user says they live, in
	// Language.
	City     string
	Province string
	Country  string
	// AvatarURL is the URL of the user's profile picture (avatarUrl).
	AvatarURL string
}

// UserInfo returns encryptedData and iv of the user's profile as
// wx.getUserInfo hands them to the mini-program: the JSON profile with
// openId and a watermark (the appid and the fake's Unix time), encrypted
// with AES-128-CBC and PKCS#7 padding under the session key of the user's
// latest code2session, with a fresh iv, both in standard base64. It fails
// if the user never exchanged a login code.
//
// WeChat docs: https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/signature.html
func (f *Fake) UserInfo(openID string, p Profile) (encryptedData, iv string, err error) {
	f.users.mu.Lock()
	u := f.users.users[openID]
	var key []byte
	if u != nil {
		key = bytes.Clone(u.sessionKey)
	}
	f.users.mu.Unlock()
	if key == nil {
		return "", "", errors.New("wxpaytest: the user has no session; exchange a login code first")
	}
	plain, err := json.Marshal(struct {
		OpenID    string    `json:"openId"`
		NickName  string    `json:"nickName"`
		Gender    int       `json:"gender"`
		Language  string    `json:"language"`
		City      string    `json:"city"`
		Province  string    `json:"province"`
		Country   string    `json:"country"`
		AvatarURL string    `json:"avatarUrl"`
		Watermark watermark `json:"watermark"`
	}{openID, p.NickName, p.Gender, p.Language, p.City, p.Province, p.Country, p.AvatarURL,
		watermark{Timestamp: f.Now().Unix(), AppID: f.cfg.AppID}})
	if err != nil {
		return "", "", err
	}
	ct, ivb, err := encryptCBC(key, plain)
	if err != nil {
		return "", "", err
	}
	return base64.StdEncoding.EncodeToString(ct), base64.StdEncoding.EncodeToString(ivb), nil
}

type watermark struct {
	Timestamp int64  `json:"timestamp"`
	AppID     string `json:"appid"`
}

// encryptCBC is WeChat's user-data encryption: AES-128-CBC, PKCS#7.
func encryptCBC(key, plain []byte) (ct, iv []byte, err error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, err
	}
	n := aes.BlockSize - len(plain)%aes.BlockSize
	buf := append(bytes.Clone(plain), bytes.Repeat([]byte{byte(n)}, n)...)
	iv = make([]byte, aes.BlockSize)
	if _, err := rand.Read(iv); err != nil {
		return nil, nil, err
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, buf)
	return buf, iv, nil
}

// miniError is a WeChat mini-program API failure.
type miniError struct {
	code int
	msg  string
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; encoding=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// serveMini answers a mini-program endpoint: an injected fault delays,
// replaces or follows rt's answer.
func (f *Fake) serveMini(w http.ResponseWriter, r *http.Request, rt *route) {
	ep := rt.path
	fl, faulty := f.faults.take(ep)
	if faulty {
		f.wait(r, fl.Delay)
	}
	var out any
	var me *miniError
	if !faulty || fl.Processed || !(fl.MiniErrCode != 0 || fl.HTML || fl.Drop) {
		out, me = rt.mini(f, w, r)
	}
	if faulty {
		if writeTransportFault(w, fl) {
			return
		}
		if fl.MiniErrCode != 0 {
			me = &miniError{fl.MiniErrCode, fl.MiniErrMsg}
		}
	}
	if me != nil {
		f.log.Info("wxpaytest: refused", "endpoint", string(ep), "errcode", me.code)
		writeJSON(w, http.StatusOK, map[string]any{"errcode": me.code, "errmsg": me.msg})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func eq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// checkApp checks appid and secret as the token endpoints do.
func (f *Fake) checkApp(appID, secret string, badSecret int) *miniError {
	switch {
	case appID == "":
		return &miniError{41002, "appid missing"}
	case secret == "":
		return &miniError{41004, "appsecret missing"}
	case appID != f.cfg.AppID:
		return &miniError{40013, "invalid appid"}
	case !eq(secret, f.secret):
		if badSecret == 40001 {
			return &miniError{40001, "invalid credential, access_token is invalid or not latest"}
		}
		return &miniError{badSecret, "invalid appsecret"}
	}
	return nil
}

// code2Session follows
// https://developers.weixin.qq.com/miniprogram/dev/server/API/user-login/api_code2session
func (f *Fake) code2Session(_ http.ResponseWriter, r *http.Request) (any, *miniError) {
	if r.Method != http.MethodGet {
		return nil, &miniError{43001, "require GET method"}
	}
	q := r.URL.Query()
	if e := f.checkApp(q.Get("appid"), q.Get("secret"), 40125); e != nil {
		return nil, e
	}
	code := q.Get("js_code")
	switch {
	case code == "":
		return nil, &miniError{41008, "missing code"}
	case q.Get("grant_type") != "authorization_code":
		return nil, &miniError{40002, "invalid grant_type"}
	}
	now := f.Now()
	f.users.mu.Lock()
	defer f.users.mu.Unlock()
	c := f.users.codes[code]
	switch {
	case c == nil || now.Sub(c.issued) >= CodeLife:
		return nil, &miniError{40029, "invalid code"}
	case c.used:
		return nil, &miniError{40163, "code been used"}
	}
	u := f.users.userLocked(c.openID)
	recent := u.calls[:0]
	for _, t := range u.calls {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	u.calls = recent
	if len(u.calls) >= Code2SessionPerMinute {
		return nil, &miniError{45011, "api minute-quota reach limit  mustslower  retry next minute"}
	}
	u.calls = append(u.calls, now)
	c.used = true
	u.sessionKey = make([]byte, 16)
	if _, err := rand.Read(u.sessionKey); err != nil {
		return nil, &miniError{-1, "system error"}
	}
	return map[string]any{
		"openid":      u.openID,
		"session_key": base64.StdEncoding.EncodeToString(u.sessionKey),
	}, nil
}

func (b *userBook) newTokenLocked(now time.Time) string {
	t := randAlnum(96)
	b.tokens[t] = now.Add(TokenLife)
	return t
}

// token follows https://mp.weixin.qq.com/debug/minigame/dev/api-backend/auth.getAccessToken.html:
// each call issues a new token; the previous one keeps working for 5
// more minutes at most.
func (f *Fake) token(_ http.ResponseWriter, r *http.Request) (any, *miniError) {
	q := r.URL.Query()
	if q.Get("grant_type") != "client_credential" {
		return nil, &miniError{40002, "invalid grant_type"}
	}
	if e := f.checkApp(q.Get("appid"), q.Get("secret"), 40001); e != nil {
		return nil, e
	}
	now := f.Now()
	b := f.users
	b.mu.Lock()
	defer b.mu.Unlock()
	if old, ok := b.tokens[b.lastToken]; ok && old.After(now.Add(5*time.Minute)) {
		b.tokens[b.lastToken] = now.Add(5 * time.Minute)
	}
	b.lastToken = b.newTokenLocked(now)
	return map[string]any{"access_token": b.lastToken, "expires_in": int(TokenLife / time.Second)}, nil
}

// stableToken follows
// https://developers.weixin.qq.com/doc/service/api/base/api_getstableaccesstoken:
// normal mode returns the current token, renewed once under 5 minutes are
// left; force_refresh revokes it.
func (f *Fake) stableToken(w http.ResponseWriter, r *http.Request) (any, *miniError) {
	if r.Method != http.MethodPost {
		return nil, &miniError{43002, "require POST method"}
	}
	var in struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequest)).Decode(&in); err != nil {
		return nil, &miniError{47001, "data format error"}
	}
	if in.GrantType != "client_credential" {
		return nil, &miniError{40002, "invalid grant_type"}
	}
	if e := f.checkApp(in.AppID, in.Secret, 40125); e != nil {
		return nil, e
	}
	now := f.Now()
	b := f.users
	b.mu.Lock()
	defer b.mu.Unlock()
	exp, ok := b.tokens[b.stable]
	switch {
	case in.ForceRefresh:
		delete(b.tokens, b.stable)
		b.stable = b.newTokenLocked(now)
	case !ok || exp.Sub(now) < 5*time.Minute:
		b.stable = b.newTokenLocked(now)
	}
	left := b.tokens[b.stable].Sub(now)
	return map[string]any{"access_token": b.stable, "expires_in": int(left / time.Second)}, nil
}

// phoneNumber follows
// https://developers.weixin.qq.com/miniprogram/dev/server/API/user-info/phone-number/api_getphonenumber
func (f *Fake) phoneNumber(w http.ResponseWriter, r *http.Request) (any, *miniError) {
	if r.Method != http.MethodPost {
		return nil, &miniError{43002, "require POST method"}
	}
	tok := r.URL.Query().Get("access_token")
	now := f.Now()
	f.users.mu.Lock()
	exp, known := f.users.tokens[tok]
	f.users.mu.Unlock()
	switch {
	case tok == "":
		return nil, &miniError{41001, "access_token missing"}
	case !known:
		return nil, &miniError{40001, "invalid credential, access_token is invalid or not latest"}
	case !now.Before(exp):
		return nil, &miniError{42001, "access_token expired"}
	}
	var in struct {
		Code   string `json:"code"`
		OpenID string `json:"openid"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequest)).Decode(&in); err != nil {
		return nil, &miniError{47001, "data format error"}
	}
	if in.Code == "" {
		return nil, &miniError{41008, "missing code"}
	}
	f.users.mu.Lock()
	defer f.users.mu.Unlock()
	c := f.users.phoneCodes[in.Code]
	if c == nil || c.used || now.Sub(c.issued) >= CodeLife || (in.OpenID != "" && in.OpenID != c.openID) {
		return nil, &miniError{40029, "invalid code"}
	}
	c.used = true
	country, pure := "86", c.phone
	if rest, ok := strings.CutPrefix(c.phone, "+"); ok {
		if cc, num, ok := strings.Cut(rest, " "); ok {
			country, pure = cc, num
		}
	}
	return map[string]any{
		"errcode": 0,
		"errmsg":  "ok",
		"phone_info": map[string]any{
			"phoneNumber":     c.phone,
			"purePhoneNumber": pure,
			"countryCode":     country,
			"watermark":       watermark{Timestamp: now.Unix(), AppID: f.cfg.AppID},
		},
	}, nil
}

// postOnly answers a request to one of the fake's own JSON endpoints
// that is not a POST with 405, and reports whether it was a POST.
func postOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodPost {
		return true
	}
	w.Header().Set("Allow", http.MethodPost)
	writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "POST only"})
	return false
}

// serveLogin answers POST /wxpaytest/login: {"openid": optional} ->
// {"code", "openid"}.
func (f *Fake) serveLogin(w http.ResponseWriter, r *http.Request) {
	if !postOnly(w, r) {
		return
	}
	var in struct {
		OpenID string `json:"openid"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<10))
	if err == nil && len(bytes.TrimSpace(body)) > 0 {
		err = json.Unmarshal(body, &in)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be a JSON object"})
		return
	}
	code, openID := f.login(in.OpenID)
	writeJSON(w, http.StatusOK, map[string]string{"code": code, "openid": openID})
}

// serveLoginPhone answers POST /wxpaytest/phonecode: {"openid": optional,
// "phone": required} -> {"code", "openid"}, as a getPhoneNumber button
// hands a code to a mini-program.
func (f *Fake) serveLoginPhone(w http.ResponseWriter, r *http.Request) {
	if !postOnly(w, r) {
		return
	}
	var in struct {
		OpenID string `json:"openid"`
		Phone  string `json:"phone"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be a JSON object"})
		return
	}
	if !validPhone(in.Phone) {
		writeJSON(w, http.StatusBadRequest, map[string]string{
			"error": `phone must be a mainland number ("13800138000") or "+<country code> <number>"`,
		})
		return
	}
	if len(in.OpenID) > 128 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "openid is at most 128 bytes"})
		return
	}
	openID := in.OpenID
	if openID == "" {
		openID = newOpenID() // PhoneCode would create one too, but the caller needs to learn it
	}
	code := f.PhoneCode(openID, in.Phone)
	writeJSON(w, http.StatusOK, map[string]string{"code": code, "openid": openID})
}

// validPhone reports whether s is a phone number as WeChat gives it: digits
// only (a mainland number), or "+", a country code of 1 to 4 digits, a
// space and the number.
func validPhone(s string) bool {
	digits := func(s string, min, max int) bool {
		return len(s) >= min && len(s) <= max && strings.Trim(s, "0123456789") == ""
	}
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		cc, num, ok := strings.Cut(rest, " ")
		return ok && digits(cc, 1, 4) && digits(num, 4, 20)
	}
	return digits(s, 4, 20)
}
