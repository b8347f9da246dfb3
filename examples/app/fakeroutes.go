package app

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/wxpay-go/wxpay/examples/api"
	"github.com/wxpay-go/wxpay/examples/shop"
)

// fakeErrors mounts the fake WeChat under /fake/ with the API's error
// shape on the routes a client calls itself (the fake's /wxpaytest/
// helpers, which play wx.login and wx.requestPayment) and on paths the
// fake does not serve, so that the demo and the mini-program read one
// shape everywhere. WeChat's own endpoints (XML payments, JSON login)
// keep WeChat's shapes (v2's XML, v3's JSON under /v3/): the libraries
// parse those.
func fakeErrors(fake http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, "/fake")
		if !strings.HasPrefix(path, "/wxpaytest/") && wechatPath(path) {
			fake.ServeHTTP(w, r)
			return
		}
		ew := &errorShaper{ResponseWriter: w}
		fake.ServeHTTP(ew, r)
		ew.finish()
	})
}

// wechatPath reports the paths under which the fake plays WeChat's own
// servers.
func wechatPath(p string) bool {
	for _, prefix := range []string{"/pay/", "/secapi/", "/sns/", "/cgi-bin/", "/wxa/", "/sandboxnew/", "/xdc/", "/v3/"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// fakeCodes gives the API's code for a status the fake answers.
var fakeCodes = map[int]shop.Code{
	http.StatusBadRequest:            shop.CodeInvalid,
	http.StatusNotFound:              shop.CodeNotFound,
	http.StatusMethodNotAllowed:      shop.CodeMethod,
	http.StatusConflict:              shop.CodeConflict,
	http.StatusRequestEntityTooLarge: shop.CodeTooLarge,
	http.StatusServiceUnavailable:    shop.CodeUpstream,
}

// errorShaper passes a success through and holds back an error answer
// (at most 64 KiB of it), to rewrite it in the API's shape.
type errorShaper struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (e *errorShaper) WriteHeader(code int) {
	if e.status != 0 {
		return
	}
	e.status = code
	if code < 400 {
		e.ResponseWriter.WriteHeader(code)
	}
}

func (e *errorShaper) Write(b []byte) (int, error) {
	if e.status == 0 {
		e.WriteHeader(http.StatusOK)
	}
	if e.status < 400 {
		return e.ResponseWriter.Write(b)
	}
	if room := 64<<10 - e.buf.Len(); room > 0 {
		e.buf.Write(b[:min(len(b), room)])
	}
	return len(b), nil
}

// finish writes the held-back error: the fake's message ("error" in its
// JSON, or its text), under the code of its status.
func (e *errorShaper) finish() {
	if e.status < 400 {
		return
	}
	var in struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(e.buf.String())
	if json.Unmarshal(e.buf.Bytes(), &in) == nil && in.Error != "" {
		msg = in.Error
	}
	if msg == "" || len(msg) > 512 {
		msg = http.StatusText(e.status)
	}
	msg = strings.TrimPrefix(msg, "wxpaytest: ")
	code, ok := fakeCodes[e.status]
	if !ok {
		code = shop.CodeInternal
	}
	var body api.ErrorBody
	var id [8]byte
	rand.Read(id[:])
	body.Error.Code, body.Error.Message, body.Error.RequestID = code, "fake WeChat: "+msg, hex.EncodeToString(id[:])
	b, _ := json.Marshal(body)
	h := e.ResponseWriter.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Request-Id", body.Error.RequestID)
	e.ResponseWriter.WriteHeader(e.status)
	e.ResponseWriter.Write(append(b, '\n'))
}
