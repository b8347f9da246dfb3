// Package api is the HTTP face of package shop: JSON routes for the
// mini-program, JWT authentication, the WeChat Pay notify_url, request logs
// and the OpenAPI document describing all of it.
package api

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/examples/shop"
)

// MaxBodyBytes caps every JSON request body. Genuine requests are a few
// hundred bytes.
const MaxBodyBytes = 64 << 10

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 document of every route.
func OpenAPI() []byte { return openAPI }

// Config configures a Handler.
type Config struct {
	Shop *shop.Service
	// Pay verifies the notifications of the v2 notify_url (POST
	// /orders/pay/notify), PayV3 those of v3's (POST
	// /orders/pay/v3/notify). Both routes are served whichever
	// generation the shop pays with, so that an order placed on the other
	// one (before a switch from v2 to v3, say) still settles; each
	// library refuses the other generation's messages. A nil one answers
	// every message on its route with its generation's failure answer.
	Pay, PayV3 shop.Payments
	// RefundNotify and RefundNotifyV3 verify the refund notifications of
	// each generation (POST /orders/refund/notify and
	// /orders/refund/v3/notify), which Refunds then settles.
	RefundNotify, RefundNotifyV3 shop.Refunder
	Auth                         *Auth
	Logger                       *slog.Logger // nil discards
	// Extra routes, such as the fake WeChat in fake mode, mounted as they
	// are (outside authentication and request logging).
	Extra map[string]http.Handler
	// Header is set on every response, such as the fake-mode marker.
	Header http.Header
	// Refunds serves POST /orders/{id}/refund and the refund notify_url;
	// nil answers that refunds are not configured.
	Refunds *shop.Refunds
	// AdminToken is the bearer token of the admin routes (refunds); it is
	// a secret, and no buyer's JWT is ever accepted in its place.
	AdminToken []byte
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (see [ClientIP]); nil trusts none.
	TrustedProxies []netip.Prefix
	// Limits meter logins, orders and pay calls; the zero value means
	// DefaultLimits.
	Limits Limits
}

// Route is one route of the API, as registered with http.ServeMux.
type Route struct {
	Method, Path string
	Auth         bool // requires a JWT, or the admin token on admin routes
}

type route struct {
	Route
	h func(w http.ResponseWriter, r *http.Request, u shop.User) error
}

// Handler is the API's http.Handler.
type Handler struct {
	cfg    Config
	log    *slog.Logger
	mux    *http.ServeMux
	routes []route
	meters *meters
}

// New returns the API handler for cfg.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), meters: newMeters(cfg.Limits)}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.routes = []route{
		{Route{"POST", "/users/wxLogin", false}, h.login},
		{Route{"GET", "/shops", false}, h.listShops},
		{Route{"GET", "/shops/{id}/goods", false}, h.listGoods},
		{Route{"POST", "/orders", true}, h.perUser(h.meters.orders, "orders", h.createOrder)},
		{Route{"GET", "/orders", true}, h.listOrders},
		{Route{"GET", "/orders/{id}", true}, h.getOrder},
		{Route{"POST", "/orders/{id}/pay", true}, h.perUser(h.meters.pay, "pay calls", h.pay)},
		{Route{"GET", "/healthz", false}, h.healthz},
		{Route{"GET", "/openapi.json", false}, h.openapi},
	}
	for _, rt := range h.routes {
		h.mux.Handle(rt.Method+" "+rt.Path, h.wrap(rt))
	}
	// The notify_url sits outside authentication: WeChat forbids a login
	// check there, and the signature is the authentication. It is still
	// logged like every route.
	settle := func(ctx context.Context, p shop.Payment) error { return cfg.Shop.Settle(ctx, p, "notify") }
	var notify, notifyV3 http.Handler = http.HandlerFunc(refuseV2), http.HandlerFunc(refuseV3)
	if cfg.Pay != nil {
		notify = cfg.Pay.NotifyHandler(settle)
	}
	if cfg.PayV3 != nil {
		notifyV3 = cfg.PayV3.NotifyHandler(settle)
	}
	h.mux.Handle("POST "+NotifyPath, h.logged(notify))
	h.mux.Handle("POST "+NotifyPathV3, h.logged(notifyV3))
	h.mountRefunds()
	for pattern, eh := range cfg.Extra {
		h.mux.Handle(pattern, eh)
	}
	// Anything else gets the error shape too, not ServeMux's text.
	// A known path with another method gets 405 and Allow (see noRoute).
	h.mux.Handle("/", h.logged(http.HandlerFunc(h.noRoute)))
	return h
}

// Routes lists the API's routes, the notify_url included.
func (h *Handler) Routes() []Route {
	out := make([]Route, 0, len(h.routes)+1)
	for _, r := range h.routes {
		out = append(out, r.Route)
	}
	out = append(out, h.refundRoutes()...)
	return append(out, Route{"POST", NotifyPath, false}, Route{"POST", NotifyPathV3, false})
}

// The payment notify_urls of the two generations of WeChat Pay.
const (
	NotifyPath   = "/orders/pay/notify"
	NotifyPathV3 = "/orders/pay/v3/notify"
)

// refuseV2 answers a v2 notification on a server without the v2 API key:
// FAIL, in v2's shape, so WeChat keeps it for a server that can verify it.
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7
func refuseV2(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[v2 is not configured]]></return_msg></xml>")
}

// refuseV3 answers a v3 notification on a server without v3 keys: FAIL,
// in v3's shape, so WeChat delivers again later.
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_3_5.shtml
func refuseV3(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, `{"code":"FAIL","message":"v3 is not configured"}`)
}

// ServeHTTP serves the API, the notify_url and the extra routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range h.cfg.Header {
		w.Header()[k] = v
	}
	h.mux.ServeHTTP(w, r)
}

type ctxKey struct{}

// requestID returns the id the logging middleware gave r.
func requestID(r *http.Request) string {
	id, _ := r.Context().Value(ctxKey{}).(string)
	return id
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the first status written.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// logged gives each request an id (X-Request-Id) and writes one log line
// when it ends: id, method, route pattern, status and duration. Nothing
// else from the request is logged: no header, no query, no body.
func (h *Handler) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var b [8]byte
		rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, id))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.log.Error("panic serving request", "request_id", id, "panic", fmt.Sprint(v))
				if sw.status == 0 {
					h.writeError(sw, r, errors.New("panic"))
				}
			}
			route := r.Pattern
			if route == "" || route == "/" {
				route = "(none)"
			}
			h.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("request_id", id), slog.String("method", r.Method), slog.String("route", route),
				slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)))
		}()
		next.ServeHTTP(sw, r)
	})
}

func (h *Handler) wrap(rt route) http.Handler {
	return h.logged(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u shop.User
		if rt.Auth {
			var err error
			if u, err = h.cfg.Auth.User(r); err != nil {
				h.writeError(w, r, err)
				return
			}
		}
		if err := rt.h(w, r, u); err != nil {
			h.writeError(w, r, err)
		}
	}))
}

var statusOf = map[shop.Code]int{
	shop.CodeInvalid:         http.StatusBadRequest,
	shop.CodeUnauthorized:    http.StatusUnauthorized,
	shop.CodeNotFound:        http.StatusNotFound,
	shop.CodeMethod:          http.StatusMethodNotAllowed,
	shop.CodeConflict:        http.StatusConflict,
	shop.CodeTooLarge:        http.StatusRequestEntityTooLarge,
	shop.CodeUnsupportedMed:  http.StatusUnsupportedMediaType,
	shop.CodeIdempotency:     http.StatusUnprocessableEntity,
	shop.CodeInternal:        http.StatusInternalServerError,
	shop.CodeUpstream:        http.StatusServiceUnavailable,
	shop.CodeUpstreamRefused: http.StatusBadGateway,
	shop.CodeUpstreamUnknown: http.StatusBadGateway,
	shop.CodeTooMany:         http.StatusTooManyRequests,
}

// ErrorBody is the one error shape of every route.
type ErrorBody struct {
	Error struct {
		Code      shop.Code `json:"code"`
		Message   string    `json:"message"`
		RequestID string    `json:"request_id"`
	} `json:"error"`
}

// writeError answers with the error shape. Errors that are not a
// *shop.Error are internal: they are logged, and the client sees only a
// generic message and the request id to quote.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var body ErrorBody
	var se *shop.Error
	if errors.As(err, &se) {
		body.Error.Code, body.Error.Message = se.Code, se.Message
	} else {
		h.log.Error("internal error", "request_id", requestID(r), "error", err.Error())
		body.Error.Code, body.Error.Message = shop.CodeInternal, "internal error"
	}
	body.Error.RequestID = requestID(r)
	if se != nil && se.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((se.RetryAfter+time.Second-1)/time.Second)))
	}
	if body.Error.Code == shop.CodeUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer`)
	}
	writeJSON(w, statusOf[body.Error.Code], body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"internal error","request_id":""}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// decode reads exactly one JSON object into v: no unknown fields, no
// trailing data, at most MaxBodyBytes.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return shop.Errorf(shop.CodeUnsupportedMed, "Content-Type must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.Decode(&struct{}{}) != io.EOF {
			err = errors.New("trailing data")
		}
	}
	if err == nil {
		return nil
	}
	var tooLarge *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooLarge):
		return shop.Errorf(shop.CodeTooLarge, "body is larger than %d bytes", MaxBodyBytes)
	case errors.Is(err, io.EOF):
		return shop.Errorf(shop.CodeInvalid, "body is empty; send a JSON object")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return shop.Errorf(shop.CodeInvalid, "body is not valid JSON")
	case errors.As(err, &typ):
		if typ.Field != "" {
			return shop.Errorf(shop.CodeInvalid, "%s must be %s", typ.Field, jsonType(typ.Type.Kind().String()))
		}
		return shop.Errorf(shop.CodeInvalid, "body must be a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for this; the field name is
		// quoted by it and safe to echo.
		return shop.Errorf(shop.CodeInvalid, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return shop.Errorf(shop.CodeInvalid, "body is not a single JSON object")
	}
}

func jsonType(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		return "an integer"
	case kind == "string":
		return "a string"
	case kind == "slice":
		return "an array"
	}
	return "of another type"
}

func pageRequest(r *http.Request) (shop.PageRequest, error) {
	var pr shop.PageRequest
	q := r.URL.Query()
	for _, p := range []struct {
		name string
		dst  *int
	}{{"page", &pr.Page}, {"limit", &pr.Limit}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			return pr, shop.Errorf(shop.CodeInvalid, "%s must be an integer from 1 to 1000000", p.name)
		}
		*p.dst = n
	}
	return pr, nil
}

// pathID reads the {id} of the path. A malformed one is the client's
// mistake and says so (400, naming the parameter); a well-formed id of
// nothing is a 404 from the handler.
func pathID(r *http.Request) (int64, error) {
	v := r.PathValue("id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 || v[0] == '+' {
		return 0, shop.Errorf(shop.CodeInvalid, "path parameter id must be a positive integer of at most 19 digits")
	}
	return id, nil
}

// --- handlers ----------------------------------------------------------

// LoginRequest is the body of POST /users/wxLogin.
type LoginRequest struct {
	Code string `json:"code"` // from wx.login
}

// LoginResponse is the answer of POST /users/wxLogin.
type LoginResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	UserID    int64     `json:"user_id"`
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request, _ shop.User) error {
	var req LoginRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	// A code that cannot be one is refused before it costs anything; a
	// plausible one is metered before it costs a code2session call.
	if err := shop.CheckLoginCode(req.Code); err != nil {
		return err
	}
	if err := h.meterLogin(w, r); err != nil {
		return err
	}
	u, err := h.cfg.Shop.Login(r.Context(), req.Code)
	if err != nil {
		return err
	}
	tok, exp, err := h.cfg.Auth.Issue(u.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, LoginResponse{Token: tok, ExpiresAt: exp, UserID: u.ID})
	return nil
}

func (h *Handler) listShops(w http.ResponseWriter, r *http.Request, _ shop.User) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	p, err := h.cfg.Shop.ListShops(r.Context(), pr)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (h *Handler) listGoods(w http.ResponseWriter, r *http.Request, _ shop.User) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	p, err := h.cfg.Shop.ListGoods(r.Context(), id, pr)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// CreateOrderRequest is the body of POST /orders: goods and counts only.
// Prices, totals, states and numbers are the server's to decide, so any
// other field is refused.
type CreateOrderRequest struct {
	Items []shop.Item `json:"items"`
}

func (h *Handler) createOrder(w http.ResponseWriter, r *http.Request, u shop.User) error {
	var req CreateOrderRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	key := r.Header.Get("Idempotency-Key")
	o, created, err := h.cfg.Shop.CreateOrder(r.Context(), u, req.Items, key)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	w.Header().Set("Location", "/orders/"+strconv.FormatInt(o.ID, 10))
	writeJSON(w, status, o)
	return nil
}

func (h *Handler) listOrders(w http.ResponseWriter, r *http.Request, u shop.User) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	p, err := h.cfg.Shop.ListOrders(r.Context(), u, pr)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (h *Handler) getOrder(w http.ResponseWriter, r *http.Request, u shop.User) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	o, err := h.cfg.Shop.GetOrder(r.Context(), u, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

func (h *Handler) pay(w http.ResponseWriter, r *http.Request, u shop.User) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	// The payer's address: the connection's, or, behind a trusted proxy
	// (TRUSTED_PROXIES), what it says in X-Forwarded-For.
	res, err := h.cfg.Shop.Pay(r.Context(), u, id, ClientIP(r, h.cfg.TrustedProxies))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (h *Handler) healthz(w http.ResponseWriter, r *http.Request, _ shop.User) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.cfg.Shop.Ping(ctx); err != nil {
		h.log.Error("health check failed", "error", err.Error())
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (h *Handler) openapi(w http.ResponseWriter, r *http.Request, _ shop.User) error {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
	return nil
}
