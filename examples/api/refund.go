package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/wxpay-go/wxpay/examples/shop"
)

// MinAdminTokenBytes is the least length of the admin token.
const MinAdminTokenBytes = 32

// RefundRequest is the body of POST /orders/{id}/refund.
type RefundRequest struct {
	// AmountFen is the amount to refund in fen: all or part of what is
	// left of the payment.
	AmountFen int64 `json:"amount_fen"`
	// Reason is shown to the payer (refund_desc), at most 80 characters.
	Reason string `json:"reason,omitempty"`
}

// refundRoutes are the routes of refunds: the admin's refund, and
// WeChat's refund notification.
func (h *Handler) refundRoutes() []Route {
	return []Route{
		{"POST", "/orders/{id}/refund", true}, // the admin token, not a JWT
		{"POST", RefundNotifyPath, false},
		{"POST", RefundNotifyPathV3, false},
	}
}

// The refund notify_urls of the two generations of WeChat Pay.
const (
	RefundNotifyPath   = "/orders/refund/notify"
	RefundNotifyPathV3 = "/orders/refund/v3/notify"
)

// refundNotify is the handler of one generation's refund notify_url.
func (h *Handler) refundNotify(r shop.Refunder) http.Handler {
	if h.cfg.Refunds == nil || r == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.writeError(w, r, errNoRefunds) })
	}
	return h.cfg.Refunds.NotifyHandlerOf(r)
}

// mountRefunds registers the refund routes. The admin route checks the
// admin token and never a buyer's JWT; the notify route, like the payment
// one, sits outside authentication (WeChat's notifications carry none)
// and confirms each notification with WeChat before anything changes.
func (h *Handler) mountRefunds() {
	admin := newAdminAuth(h.cfg.AdminToken)
	h.mux.Handle("POST /orders/{id}/refund", h.logged(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.cfg.Refunds == nil {
			h.writeError(w, r, errNoRefunds)
			return
		}
		if err := admin.check(r); err != nil {
			h.writeError(w, r, err)
			return
		}
		if err := h.refund(w, r); err != nil {
			h.writeError(w, r, err)
		}
	})))
	h.mux.Handle("POST "+RefundNotifyPath, h.logged(h.refundNotify(h.cfg.RefundNotify)))
	h.mux.Handle("POST "+RefundNotifyPathV3, h.logged(h.refundNotify(h.cfg.RefundNotifyV3)))
}

// adminAuth checks the admin token.
type adminAuth struct {
	hash [sha256.Size]byte
	set  bool
}

func newAdminAuth(token []byte) adminAuth {
	return adminAuth{hash: sha256.Sum256(token), set: len(token) > 0}
}

// check accepts r only if it carries the admin token as a bearer token.
// Every failure is the same 401.
func (a adminAuth) check(r *http.Request) error {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" || len(tok) > MaxTokenBytes || !a.set {
		return errAdmin
	}
	// Comparing hashes makes the comparison constant-time in the length
	// too.
	got := sha256.Sum256([]byte(tok))
	if subtle.ConstantTimeCompare(got[:], a.hash[:]) != 1 {
		return errAdmin
	}
	return nil
}

var (
	errAdmin     = shop.Errorf(shop.CodeUnauthorized, "this route needs the admin token (Authorization: Bearer ADMIN_TOKEN)")
	errNoRefunds = shop.Errorf(shop.CodeNotFound, "refunds are not configured on this server: set ADMIN_TOKEN, WXPAY_CERT_FILE and WXPAY_KEY_FILE")
)

func (h *Handler) refund(w http.ResponseWriter, r *http.Request) error {
	if h.cfg.Refunds == nil {
		return errNoRefunds
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req RefundRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	ref, created, err := h.cfg.Refunds.Refund(r.Context(), id, req.AmountFen, req.Reason, r.Header.Get("Idempotency-Key"))
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	writeJSON(w, status, ref)
	return nil
}
