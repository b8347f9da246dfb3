package app_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/examples/api"
	"github.com/wxpay-go/wxpay/examples/app"
	"github.com/wxpay-go/wxpay/examples/client"
	"github.com/wxpay-go/wxpay/examples/shop"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// refundHarness is a harness with a paid order of 3600 fen.
type refundHarness struct {
	*harness
	buyer      *client.Client
	order      shop.Order
	outTradeNo string
}

func newRefundHarness(t *testing.T) *refundHarness {
	t.Helper()
	h := newHarness(t)
	h.sec.add("ADMIN_TOKEN", h.s.AdminToken)
	sum := md5.Sum([]byte(h.s.FakeConfig.APIKey))
	h.sec.add("the refund notification key (MD5 of the API key)", hex.EncodeToString(sum[:]))
	c := h.user()
	o, p := h.placeAndPrepay(c)
	ctx := context.Background()
	if _, err := c.FakeConfirm(ctx, p.Payment); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Fake.WaitAcked(ctx, p.OutTradeNo); err != nil {
		t.Fatal(err)
	}
	if got := h.orderStatus(o.ID); got != shop.StatusPaid || o.TotalFen != 3600 {
		t.Fatalf("order %s, total %d; want paid 3600", got, o.TotalFen)
	}
	return &refundHarness{harness: h, buyer: c, order: o, outTradeNo: p.OutTradeNo}
}

// refund posts a refund of the order with token and key, and returns the
// status and the decoded refund or error.
func (h *refundHarness) refund(token, key string, body any) (int, shop.Refund, api.ErrorBody) {
	h.t.Helper()
	return h.refundOf(h.order.ID, token, key, body)
}

func (h *refundHarness) refundOf(orderID int64, token, key string, body any) (int, shop.Refund, api.ErrorBody) {
	h.t.Helper()
	b, _ := json.Marshal(body)
	if s, ok := body.(string); ok {
		b = []byte(s)
	}
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/orders/%d/refund", h.s.URL, orderID), bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	var r shop.Refund
	var e api.ErrorBody
	if resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(rb, &r); err != nil {
			h.t.Fatalf("refund answer %s: %v", rb, err)
		}
	} else if err := json.Unmarshal(rb, &e); err != nil {
		h.t.Fatalf("refund error %s: %v", rb, err)
	}
	return resp.StatusCode, r, e
}

func (h *refundHarness) refundCalls() int {
	h.wx.mu.Lock()
	defer h.wx.mu.Unlock()
	return h.wx.calls["/secapi/pay/refund"]
}

// refundStateNoCalls is refundState without the count of WeChat Pay
// calls: the refund notify handler asks refundquery for each delivery.
func (h *refundHarness) refundStateNoCalls() string {
	h.t.Helper()
	var keep []string
	for _, l := range strings.Split(h.refundState(), "\n") {
		if !strings.HasPrefix(l, "WeChat Pay calls:") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// refundState fingerprints the stored refunds and WeChat's, beside
// everything else the server stores.
func (h *refundHarness) refundState() string {
	h.t.Helper()
	var b strings.Builder
	b.WriteString(h.state())
	var v string
	if err := h.db.QueryRow(h.dialect(`SELECT COALESCE(group_concat(out_refund_no || ':' || amount_fen || ':' || status, ','), '') FROM (SELECT * FROM refunds ORDER BY out_refund_no) AS t`)).Scan(&v); err != nil {
		h.t.Fatal(err)
	}
	fmt.Fprintf(&b, "refunds: %s\nrefunded_fen: %d\nWeChat refunds: %d, calls %d\n", v,
		h.count(`SELECT refunded_fen FROM orders WHERE id = $1`, h.order.ID), len(h.s.Fake.Refunds(h.outTradeNo)), h.refundCalls())
	return b.String()
}

var reqInfoRE = regexp.MustCompile(`(<req_info>(?:<!\[CDATA\[)?)[A-Za-z0-9+/]{22}`)

func refundBody(fen int64) api.RefundRequest {
	return api.RefundRequest{AmountFen: fen, Reason: "顾客退货"}
}

// TestRefundFull refunds a whole order: WeChat refunds it once, the
// refund notification settles it, the buyer sees it, and the same key
// returns the same refund while another body under it is refused.
func TestRefundFull(t *testing.T) {
	h := newRefundHarness(t)
	ctx := context.Background()
	status, r, e := h.refund(h.s.AdminToken, "full-1", refundBody(3600))
	if status != 201 || r.AmountFen != 3600 || len(r.OutRefundNo) != 32 {
		t.Fatalf("refund: %d %+v %+v", status, r, e)
	}
	wr := h.s.Fake.Refunds(h.outTradeNo)
	if len(wr) != 1 || wr[0].OutRefundNo != r.OutRefundNo || wr[0].RefundFee != 3600 || wr[0].TotalFee != 3600 {
		t.Fatalf("WeChat's refunds: %+v", wr)
	}
	// The reason and the notify_url, in each generation's request: v2's
	// refund_desc, v3's reason (and each its own refund notify route).
	desc, route := wr[0].Request["refund_desc"], "/orders/refund/notify"
	if onV3() {
		var v3 struct {
			Reason string `json:"reason"`
		}
		if err := json.Unmarshal(wr[0].V3Request, &v3); err != nil || !wr[0].APIv3 {
			t.Fatalf("the refund was not v3's: %v (APIv3 %v)", err, wr[0].APIv3)
		}
		desc, route = v3.Reason, "/orders/refund/v3/notify"
	}
	if desc != "顾客退货" || !strings.HasSuffix(wr[0].NotifyURL, route) {
		t.Errorf("refund request: desc %q, notify_url %q; want 顾客退货 and %s", desc, wr[0].NotifyURL, route)
	}
	again, r2, _ := h.refund(h.s.AdminToken, "full-1", refundBody(3600))
	if again != 200 || r2.OutRefundNo != r.OutRefundNo {
		t.Fatalf("same key and body: %d %+v; want 200 and %s", again, r2, r.OutRefundNo)
	}
	other, _, e := h.refund(h.s.AdminToken, "full-1", refundBody(100))
	if other != 422 || e.Error.Code != shop.CodeIdempotency {
		t.Fatalf("same key, other body: %d %+v; want 422", other, e)
	}
	if err := h.s.Fake.WaitRefundAcked(ctx, r.OutRefundNo); err != nil {
		t.Fatal(err)
	}
	o, err := h.buyer.Order(ctx, h.order.ID)
	if err != nil || len(o.Refunds) != 1 || o.Refunds[0].Status != shop.RefundSucceeded || o.Refunds[0].SettledAt == nil || o.Refunds[0].OutRefundNo != r.OutRefundNo {
		t.Fatalf("order after the refund notification: %+v, %v", o, err)
	}
	if len(h.s.Fake.Refunds(h.outTradeNo)) != 1 {
		t.Errorf("WeChat refunded %d times", len(h.s.Fake.Refunds(h.outTradeNo)))
	}
	// Nothing is left: one more fen is refused without asking WeChat.
	before := h.refundState()
	if st, _, e := h.refund(h.s.AdminToken, "full-2", refundBody(1)); st != 409 || !strings.Contains(e.Error.Message, "¥0.00 is left") {
		t.Fatalf("refund past the total: %d %+v", st, e)
	}
	if after := h.refundState(); after != before {
		t.Errorf("state changed:\n%s\n%s", before, after)
	}
}

// TestRefundPartials refunds an order in parts up to what was paid; one
// more is refused with a clear message and no WeChat call.
func TestRefundPartials(t *testing.T) {
	v2Only(t, "it counts calls to v2's refund endpoint")
	h := newRefundHarness(t)
	ctx := context.Background()
	var nos []string
	for i, fen := range []int64{1000, 2000, 600} {
		st, r, e := h.refund(h.s.AdminToken, fmt.Sprint("part-", i), refundBody(fen))
		if st != 201 || r.AmountFen != fen {
			t.Fatalf("partial refund %d of %d: %d %+v %+v", i, fen, st, r, e)
		}
		nos = append(nos, r.OutRefundNo)
	}
	// Settled first, so that no notification lands during the check.
	for _, no := range nos {
		if err := h.s.Fake.WaitRefundAcked(ctx, no); err != nil {
			t.Fatal(err)
		}
	}
	before := h.refundState()
	st, _, e := h.refund(h.s.AdminToken, "part-3", refundBody(1))
	if st != 409 || e.Error.Code != shop.CodeConflict || !strings.Contains(e.Error.Message, "exceed the ¥36.00 paid") {
		t.Fatalf("a refund past the total: %d %+v; want 409 with a clear message", st, e)
	}
	if after := h.refundState(); after != before {
		t.Errorf("state changed:\n%s\n%s", before, after)
	}
	var sum int64
	for _, wr := range h.s.Fake.Refunds(h.outTradeNo) {
		sum += wr.RefundFee
	}
	if sum != 3600 || h.refundCalls() != 3 {
		t.Errorf("WeChat refunded %d fen in %d calls; want 3600 in 3", sum, h.refundCalls())
	}
	o, err := h.buyer.Order(ctx, h.order.ID)
	if err != nil || len(o.Refunds) != 3 {
		t.Fatalf("order: %+v, %v", o, err)
	}
	for _, r := range o.Refunds {
		if r.Status != shop.RefundSucceeded {
			t.Errorf("refund %s: %s, want success", r.OutRefundNo, r.Status)
		}
	}
}

// TestRefundRetry: after WeChat's SYSTEMERROR (having refunded or not) and
// after a lost answer, the refund is retried with the same out_refund_no
// and WeChat refunds once.
func TestRefundRetry(t *testing.T) {
	v2Only(t, "its faults are v2 answers (SYSTEMERROR, an HTML page)")
	for _, tt := range []struct {
		name   string
		times  int
		fault  wxpaytest.Fault
		first  int // status of the first request
		status string
	}{
		{"SYSTEMERROR once, refunded", 1, wxpaytest.Fault{ErrCode: wxpay.ErrCodeSystemError, Processed: true}, 201, shop.RefundProcessing},
		{"SYSTEMERROR once, not refunded", 1, wxpaytest.Fault{ErrCode: wxpay.ErrCodeSystemError}, 201, shop.RefundProcessing},
		{"SYSTEMERROR every try, refunded", 3, wxpaytest.Fault{ErrCode: wxpay.ErrCodeSystemError, Processed: true}, 502, shop.RefundPending},
		{"answer lost, refunded", 3, wxpaytest.Fault{Drop: true, Processed: true}, 502, shop.RefundPending},
		{"HTML error page", 3, wxpaytest.Fault{HTML: true}, 502, shop.RefundPending},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newRefundHarness(t)
			h.s.Fake.Inject(wxpaytest.EndpointRefund, tt.times, tt.fault)
			st, r, e := h.refund(h.s.AdminToken, "retry", refundBody(3600))
			if st != tt.first {
				t.Fatalf("first request: %d %+v %+v; want %d", st, r, e, tt.first)
			}
			var stored []string
			rows, err := h.db.Query(`SELECT out_refund_no || ':' || status FROM refunds`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var s string
				rows.Scan(&s)
				stored = append(stored, s)
			}
			rows.Close()
			// On a slow machine the refund may have moved on already: its
			// notification comes a second after WeChat made it, and the
			// retry job looks at a pending one two seconds after it was
			// stored.
			later := strings.HasSuffix(stored[0], ":success") || tt.status == shop.RefundPending && strings.HasSuffix(stored[0], ":processing")
			if len(stored) != 1 || !strings.HasSuffix(stored[0], ":"+tt.status) && !later {
				t.Fatalf("stored refunds %v, want one %s", stored, tt.status)
			}
			no, _, _ := strings.Cut(stored[0], ":")
			if st == 502 {
				if e.Error.Code != shop.CodeUpstreamUnknown || !strings.Contains(e.Error.Message, "same Idempotency-Key") {
					t.Errorf("unclear outcome: %+v", e)
				}
				st, r, e = h.refund(h.s.AdminToken, "retry", refundBody(3600))
				if st != 200 || r.Status != shop.RefundProcessing && r.Status != shop.RefundSucceeded {
					t.Fatalf("the repeated request: %d %+v %+v", st, r, e)
				}
			}
			if r.OutRefundNo != no {
				t.Errorf("refund %s, stored %s", r.OutRefundNo, no)
			}
			wr := h.s.Fake.Refunds(h.outTradeNo)
			if len(wr) != 1 || wr[0].OutRefundNo != no || wr[0].RefundFee != 3600 {
				t.Fatalf("WeChat's refunds %+v; want one of 3600 under %s", wr, no)
			}
			for _, c := range h.s.Fake.Refunds(h.outTradeNo) {
				if c.Request["out_refund_no"] != no {
					t.Errorf("WeChat got out_refund_no %s", c.Request["out_refund_no"])
				}
			}
		})
	}
}

// TestRefundRetryJob: a refund left pending by an unclear answer, which
// nobody repeats, is sent again by its job under the same out_refund_no.
func TestRefundRetryJob(t *testing.T) {
	v2Only(t, "its faults are v2 answers")
	h := newRefundHarness(t)
	h.s.Fake.Inject(wxpaytest.EndpointRefund, 3, wxpaytest.Fault{ErrCode: wxpay.ErrCodeSystemError})
	st, _, e := h.refund(h.s.AdminToken, "job", refundBody(1200))
	if st != 502 {
		t.Fatalf("first request: %d %+v; want 502", st, e)
	}
	if n := len(h.s.Fake.Refunds(h.outTradeNo)); n != 0 {
		t.Fatalf("WeChat has %d refunds after three SYSTEMERRORs without effect", n)
	}
	var no string
	if err := h.db.QueryRow(`SELECT out_refund_no FROM refunds`).Scan(&no); err != nil {
		t.Fatal(err)
	}
	h.waitFor(30*time.Second, "the retry job refunds", func() bool {
		wr := h.s.Fake.Refunds(h.outTradeNo)
		return len(wr) == 1 && wr[0].OutRefundNo == no && wr[0].RefundFee == 1200
	})
	h.waitFor(30*time.Second, "the refund settles", func() bool {
		return h.count(`SELECT COUNT(*) FROM refunds WHERE out_refund_no = $1 AND status = 'success'`, no) == 1
	})
	if n := h.count(`SELECT COUNT(*) FROM refunds`); n != 1 {
		t.Errorf("%d stored refunds", n)
	}
}

// TestRefundRefused: WeChat's definite refusal is final for that refund
// and gives its amount back, so another refund can follow.
func TestRefundRefused(t *testing.T) {
	v2Only(t, "its fault is a v2 answer (NOTENOUGH)")
	h := newRefundHarness(t)
	h.s.Fake.Inject(wxpaytest.EndpointRefund, 1, wxpaytest.Fault{ErrCode: wxpay.ErrCodeNotEnough})
	st, _, e := h.refund(h.s.AdminToken, "refused", refundBody(3600))
	if st != 502 || e.Error.Code != shop.CodeUpstreamRefused || !strings.Contains(e.Error.Message, "NOTENOUGH") || strings.Contains(e.Error.Message, "shop:") {
		t.Fatalf("refused refund: %d %+v", st, e)
	}
	if st, _, e2 := h.refund(h.s.AdminToken, "refused", refundBody(3600)); st != 502 || e2.Error.Message != e.Error.Message || h.refundCalls() != 1 {
		t.Fatalf("repeat of a refused refund: %d %+v, %d calls; want the same 502 without a call", st, e2, h.refundCalls())
	}
	if n := h.count(`SELECT refunded_fen FROM orders WHERE id = $1`, h.order.ID); n != 0 {
		t.Fatalf("refunded_fen %d after a refusal", n)
	}
	if st, r, e := h.refund(h.s.AdminToken, "after-refusal", refundBody(3600)); st != 201 || r.Status != shop.RefundProcessing && r.Status != shop.RefundSucceeded {
		t.Fatalf("refund after a refusal: %d %+v %+v", st, r, e)
	}
	if n := len(h.s.Fake.Refunds(h.outTradeNo)); n != 1 {
		t.Errorf("WeChat refunds: %d", n)
	}
}

// TestRefundConcurrent: two full refunds of one order at once (other
// keys) refund once; ten requests with one key refund once.
func TestRefundConcurrent(t *testing.T) {
	h := newRefundHarness(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	nos := map[string]bool{}
	for i := range 12 {
		key := "same"
		if i < 2 {
			key = fmt.Sprint("own-", i)
		}
		wg.Go(func() {
			st, r, _ := h.refund(h.s.AdminToken, key, refundBody(3600))
			mu.Lock()
			defer mu.Unlock()
			statuses[st]++
			if r.OutRefundNo != "" {
				nos[r.OutRefundNo] = true
			}
		})
	}
	wg.Wait()
	if len(nos) != 1 || statuses[201] != 1 || statuses[201]+statuses[200]+statuses[409] != 12 {
		t.Fatalf("statuses %v, refunds %v; want one refund", statuses, nos)
	}
	wr := h.s.Fake.Refunds(h.outTradeNo)
	if len(wr) != 1 || wr[0].RefundFee != 3600 {
		t.Fatalf("WeChat's refunds: %+v", wr)
	}
	if n := h.count(`SELECT COUNT(*) FROM refunds`); n != 1 {
		t.Errorf("%d stored refunds", n)
	}
}

// TestRefundAuth: a buyer's JWT, a wrong admin token or none is 401 and
// changes nothing.
func TestRefundAuth(t *testing.T) {
	h := newRefundHarness(t)
	before := h.refundState()
	for name, tok := range map[string]string{
		"buyer's JWT":      h.buyer.Token,
		"wrong token":      strings.Repeat("x", len(h.s.AdminToken)),
		"token prefix":     h.s.AdminToken[:len(h.s.AdminToken)-1],
		"token and more":   h.s.AdminToken + "x",
		"none":             "",
		"oversized header": strings.Repeat("a", 4096),
	} {
		st, _, e := h.refund(tok, "auth", refundBody(3600))
		if st != 401 || e.Error.Code != shop.CodeUnauthorized {
			t.Errorf("%s: %d %+v; want 401", name, st, e)
		}
	}
	// The buyer's own order routes do not take the admin token either.
	c := &client.Client{Base: h.s.URL, HTTP: h.http, Token: h.s.AdminToken}
	if _, err := c.Order(context.Background(), h.order.ID); err == nil {
		t.Error("GET /orders/{id} accepted the admin token")
	}
	if after := h.refundState(); after != before {
		t.Errorf("state changed:\n%s\n%s", before, after)
	}
}

// TestRefundBadInput: bad requests are refused, clearly, without a state
// change or a WeChat call.
func TestRefundBadInput(t *testing.T) {
	h := newRefundHarness(t)
	unpaid, err := h.buyer.CreateOrder(context.Background(), []shop.Item{{GoodsID: 101, Count: 1}}, "")
	if err != nil {
		t.Fatal(err)
	}
	before := h.refundState()
	tests := []struct {
		name   string
		order  int64
		key    string
		body   any
		status int
		want   string
	}{
		{"no key", 0, "", refundBody(100), 400, "Idempotency-Key"},
		{"long key", 0, strings.Repeat("k", 129), refundBody(100), 400, "Idempotency-Key"},
		{"zero", 0, "k", refundBody(0), 400, "amount_fen"},
		{"negative", 0, "k", refundBody(-1), 400, "amount_fen"},
		{"huge", 0, "k", refundBody(1 << 62), 400, "amount_fen"},
		{"more than paid", 0, "k", refundBody(3601), 409, "exceed"},
		{"string amount", 0, "k", `{"amount_fen":"100"}`, 400, "amount_fen must be an integer"},
		{"fraction", 0, "k", `{"amount_fen":1.5}`, 400, "amount_fen"},
		{"unknown field", 0, "k", `{"amount_fen":100,"out_refund_no":"x"}`, 400, "unknown field"},
		{"not JSON", 0, "k", `amount=100`, 400, "not valid JSON"},
		{"empty", 0, "k", ``, 400, "empty"},
		{"long reason", 0, "k", api.RefundRequest{AmountFen: 100, Reason: strings.Repeat("退", 81)}, 400, "reason"},
		{"reason with &", 0, "k", api.RefundRequest{AmountFen: 100, Reason: "a&sign=x"}, 400, "reason"},
		{"reason with newline", 0, "k", api.RefundRequest{AmountFen: 100, Reason: "a\nb"}, 400, "reason"},
		{"unpaid order", unpaid.ID, "k", refundBody(100), 409, "only a paid order"},
		{"unknown order", 12345, "k", refundBody(100), 404, "no order"},
	}
	for _, tt := range tests {
		id := tt.order
		if id == 0 {
			id = h.order.ID
		}
		st, _, e := h.refundOf(id, h.s.AdminToken, tt.key, tt.body)
		if st != tt.status || !strings.Contains(e.Error.Message, tt.want) {
			t.Errorf("%s: %d %+v; want %d with %q", tt.name, st, e, tt.status, tt.want)
		}
	}
	if after := h.refundState(); after != before {
		t.Errorf("state changed:\n%s\n%s", before, after)
	}
}

// TestRefundNotifyOnce: the refund notification, delivered many times
// (at once and again later), settles the refund once.
func TestRefundNotifyOnce(t *testing.T) {
	v2Only(t, "it replays v2's req_info; v3 refund notifications are signed, and replays of them are TestBadNotifications' on v3")
	h := newRefundHarness(t)
	ctx := context.Background()
	st, r, e := h.refund(h.s.AdminToken, "notify", refundBody(1000))
	if st != 201 {
		t.Fatalf("refund: %d %+v", st, e)
	}
	if err := h.s.Fake.WaitRefundAcked(ctx, r.OutRefundNo); err != nil {
		t.Fatal(err)
	}
	ds := h.s.Fake.RefundDeliveries(r.OutRefundNo)
	if len(ds) == 0 {
		t.Fatal("no refund notification")
	}
	var settled int64
	h.db.QueryRow(`SELECT settled_at FROM refunds`).Scan(&settled)
	before := h.refundStateNoCalls()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			resp, err := http.Post(h.s.URL+"/orders/refund/notify", "text/xml", bytes.NewReader(ds[0].Body))
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), "SUCCESS") {
				t.Errorf("repeated refund notification: %d %s", resp.StatusCode, b)
			}
		})
	}
	wg.Wait()
	if after := h.refundStateNoCalls(); after != before {
		t.Errorf("state changed:\n%s\n%s", before, after)
	}
	var settled2 int64
	h.db.QueryRow(`SELECT settled_at FROM refunds`).Scan(&settled2)
	if settled2 != settled || settled == 0 {
		t.Errorf("settled_at %d then %d", settled, settled2)
	}
	if n := strings.Count(h.logs.String(), `msg="refund settled"`); n != 1 {
		t.Errorf("%d refund settled log lines, want 1", n)
	}
	// A notification whose req_info does not decrypt is refused and
	// changes nothing.
	// (Its first cipher block, which holds the start of the document,
	// replaced.)
	bad := reqInfoRE.ReplaceAll(ds[0].Body, []byte("${1}AAAAAAAAAAAAAAAAAAAAAA"))
	if bytes.Equal(bad, ds[0].Body) {
		t.Fatalf("no req_info in %s", ds[0].Body)
	}
	resp, err := http.Post(h.s.URL+"/orders/refund/notify", "text/xml", bytes.NewReader(bad))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Errorf("tampered refund notification acknowledged")
	}
	if after := h.refundStateNoCalls(); after != before {
		t.Errorf("state changed:\n%s\n%s", before, after)
	}
}

// TestRefundClosed: a refund WeChat closes gives its amount back.
func TestRefundClosed(t *testing.T) {
	h := newRefundHarness(t)
	ctx := context.Background()
	st, r, e := h.refund(h.s.AdminToken, "closing", refundBody(3600))
	if st != 201 {
		t.Fatalf("refund: %d %+v", st, e)
	}
	if err := h.s.Fake.SettleRefund(r.OutRefundNo, wxpay.RefundClosed); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Fake.WaitRefundAcked(ctx, r.OutRefundNo); err != nil {
		t.Fatal(err)
	}
	o, err := h.buyer.Order(ctx, h.order.ID)
	if err != nil || len(o.Refunds) != 1 || o.Refunds[0].Status != shop.RefundClosed {
		t.Fatalf("order: %+v, %v", o, err)
	}
	if st, r2, e := h.refund(h.s.AdminToken, "after-close", refundBody(3600)); st != 201 || r2.OutRefundNo == r.OutRefundNo {
		t.Fatalf("refund after a closed one: %d %+v %+v", st, r2, e)
	}
}

// TestRefundConfig: refunds are all or nothing in real mode, the admin
// token is long enough, and WXPAY_BASE_URL is for real mode against a
// local fake or an https origin.
func TestRefundConfig(t *testing.T) {
	full := map[string]string{
		"WXPAY_APPID": "wx8888888888888888", "WXPAY_MCHID": "1900000109", "WXPAY_API_KEY": strings.Repeat("k", 32),
		"WX_APP_SECRET": strings.Repeat("s", 32), "PUBLIC_URL": "https://shop.example.com",
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	admin := strings.Repeat("A", 32)
	for _, tt := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"admin token without certificate", with("ADMIN_TOKEN", admin), []string{"partly", "WXPAY_CERT_FILE", "WXPAY_KEY_FILE"}},
		{"certificate without admin token", with("WXPAY_CERT_FILE", "c.pem", "WXPAY_KEY_FILE", "k.pem"), []string{"partly", "ADMIN_TOKEN"}},
		{"short admin token", with("ADMIN_TOKEN", "short", "WXPAY_CERT_FILE", "c.pem", "WXPAY_KEY_FILE", "k.pem"), []string{"ADMIN_TOKEN", "32"}},
		{"missing certificate files", with("ADMIN_TOKEN", admin, "WXPAY_CERT_FILE", "/nonexistent/c.pem", "WXPAY_KEY_FILE", "/nonexistent/k.pem"), []string{"c.pem"}},
		{"short admin token in fake mode", map[string]string{"ADMIN_TOKEN": "short"}, []string{"ADMIN_TOKEN"}},
		{"base URL in fake mode", map[string]string{"WXPAY_BASE_URL": "http://127.0.0.1:1"}, []string{"WXPAY_BASE_URL", "real mode"}},
		{"http base URL off loopback", with("WXPAY_BASE_URL", "http://fake.example.com:80"), []string{"WXPAY_BASE_URL", "loopback"}},
		{"http public URL without a base URL", with("PUBLIC_URL", "http://127.0.0.1:8080"), []string{"https"}},
		{"http public URL off loopback", with("PUBLIC_URL", "http://shop.example.com:80", "WXPAY_BASE_URL", "http://127.0.0.1:1"), []string{"PUBLIC_URL", "loopback"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := app.ParseConfig([]string{"-addr", "127.0.0.1:0", "-db", t.TempDir() + "/x.db"}, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			c.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				t.Errorf("called WeChat: %s", r.URL.Path)
				return nil, errors.New("no network in tests")
			})}
			var logs bytes.Buffer
			s, err := app.Start(context.Background(), c, &logs)
			if err == nil {
				s.Close()
				t.Fatal("started")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error()+logs.String(), admin) || strings.Contains(err.Error()+logs.String(), full["WXPAY_API_KEY"]) {
				t.Error("a secret was printed")
			}
		})
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%v %+v %#v", app.Config{AdminToken: admin}, app.Config{AdminToken: admin}, app.Config{AdminToken: admin})
	if strings.Contains(b.String(), admin) {
		t.Error("Config prints ADMIN_TOKEN")
	}
}

// TestRefundsOffInRealMode: real mode without the refund settings starts,
// and the refund routes say refunds are not configured.
func TestRefundsOffInRealMode(t *testing.T) {
	s, logs := startRealMode(t)
	for _, path := range []string{"/orders/1/refund", "/orders/refund/notify"} {
		resp, err := http.Post(s.URL+path, "application/json", strings.NewReader(`{"amount_fen":1}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 || !strings.Contains(string(b), "refunds are not configured") {
			t.Errorf("POST %s: %d %s", path, resp.StatusCode, b)
		}
	}
	if !strings.Contains(logs.String(), "refunds are off") {
		t.Errorf("no log line says refunds are off:\n%s", logs.String())
	}
}

// TestRefundFakeModeCertificate: fake mode with its own HTTP client (as
// the server runs for a user) refunds with the certificate the fake
// minted, and ADMIN_TOKEN from the configuration.
func TestRefundFakeModeCertificate(t *testing.T) {
	ctx := context.Background()
	admin := "admin-" + strings.Repeat("t", 32)
	var logs syncBuf
	s, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", API: testAPI(), DBPath: t.TempDir() + "/x.db", Speed: 60, AdminToken: admin}, &logs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	c := &client.Client{Base: s.URL, HTTP: hc}
	code, err := c.FakeLogin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, code); err != nil {
		t.Fatal(err)
	}
	o, err := c.CreateOrder(ctx, []shop.Item{{GoodsID: 204, Count: 1}}, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Pay(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FakeConfirm(ctx, p.Payment); err != nil {
		t.Fatal(err)
	}
	if err := s.Fake.WaitAcked(ctx, p.OutTradeNo); err != nil {
		t.Fatal(err)
	}
	var r shop.Refund
	ac := &client.Client{Base: s.URL, HTTP: hc, Token: admin}
	if err := ac.Do(ctx, "POST", fmt.Sprintf("/orders/%d/refund", o.ID), http.Header{"Idempotency-Key": {"k"}}, api.RefundRequest{AmountFen: 300}, &r); err != nil {
		t.Fatal(err)
	}
	if err := s.Fake.WaitRefundAcked(ctx, r.OutRefundNo); err != nil {
		t.Fatal(err)
	}
	got, err := c.Order(ctx, o.ID)
	if err != nil || len(got.Refunds) != 1 || got.Refunds[0].Status != shop.RefundSucceeded {
		t.Fatalf("order %+v, %v", got, err)
	}
	if strings.Contains(logs.String(), admin) || strings.Contains(logs.String(), "ADMIN_TOKEN is not set") {
		t.Errorf("log:\n%s", logs.String())
	}
}
