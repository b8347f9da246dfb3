package wxpay_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// The replies WeChat expects, written out rather than taken from the
// package so that a change to them fails a test.
const (
	xReplySuccess = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
	xReplyInvalid = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[invalid notification]]></return_msg></xml>"
	xReplyFailed  = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[processing failed]]></return_msg></xml>"
)

// xShop is a merchant's notify_url served by the library's NotifyHandler,
// receiving what a wxpaytest server delivers.
type xShop struct {
	wx     *wxpaytest.Server
	client *wxpay.Client
	url    string

	mu   sync.Mutex
	got  []wxpay.Notification
	fail int // calls of fn still to fail
}

// xNewShop starts a fake WeChat for the test merchant signing with st (its
// retry schedule sped up a thousandfold) and a notify_url server whose fn
// records each notification.
func xNewShop(t *testing.T, st wxpay.SignType) *xShop {
	t.Helper()
	s := &xShop{wx: xFake(t, func(cfg *wxpaytest.Config) { cfg.SignType = st; cfg.Speed = 1000 })}
	s.client = xClient(t, st, wxpay.WithBaseURL(s.wx.URL))
	srv := httptest.NewServer(s.client.NotifyHandler(func(_ context.Context, n *wxpay.Notification) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.fail > 0 {
			s.fail--
			return errors.New("database unavailable")
		}
		s.got = append(s.got, *n)
		return nil
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL + "/wxpay/notify"
	return s
}

// order places a JSAPI order whose notifications go to the shop.
func (s *xShop) order(t *testing.T, outTradeNo string) *wxpay.UnifiedOrderResponse {
	t.Helper()
	req := xOrder(outTradeNo)
	req.NotifyURL = s.url
	resp, err := s.client.UnifiedOrder(context.Background(), req)
	require.NoError(t, err)
	return resp
}

func (s *xShop) waitAcked(t *testing.T, outTradeNo string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.wx.WaitAcked(ctx, outTradeNo))
}

func (s *xShop) notifications() []wxpay.Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]wxpay.Notification(nil), s.got...)
}

// TestNotifyHandlerDeliveries: real deliveries under either algorithm
// reach fn once each, with the order's amount and payer, and are
// acknowledged with WeChat's SUCCESS reply on the first attempt.
func TestNotifyHandlerDeliveries(t *testing.T) {
	t.Parallel()
	for _, st := range []wxpay.SignType{wxpay.SignMD5, wxpay.SignHMACSHA256} {
		t.Run(string(st), func(t *testing.T) {
			t.Parallel()
			s := xNewShop(t, st)
			resp := s.order(t, "N1")
			paid, err := s.wx.Pay(wxpaytest.PayOptions{PrepayID: resp.PrepayID,
				Coupons: []wxpay.Coupon{{ID: "10000", Type: wxpay.CouponCash, Fee: 88}}})
			require.NoError(t, err)
			s.waitAcked(t, "N1")

			got := s.notifications()
			require.Len(t, got, 1)
			n := got[0]
			assert.True(t, n.Paid())
			assert.Equal(t, "N1", n.OutTradeNo)
			assert.Equal(t, paid.TransactionID, n.TransactionID)
			assert.Equal(t, int64(888), n.TotalFee)
			assert.Equal(t, wxpay.NullFen{Fen: 800, Valid: true}, n.CashFee)
			assert.Equal(t, []wxpay.Coupon{{ID: "10000", Type: wxpay.CouponCash, Fee: 88}}, n.Coupons)
			assert.Equal(t, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", n.OpenID)
			assert.Empty(t, n.Unparsed)

			d := s.wx.Deliveries("N1")
			require.Len(t, d, 1)
			assert.True(t, d[0].Acked)
			assert.Equal(t, http.StatusOK, d[0].StatusCode)
			assert.Equal(t, xReplySuccess, string(d[0].Reply))
		})
	}
}

// TestNotifyHandlerDuplicateDeliveries: WeChat may send one notification
// from several servers at once; each copy reaches fn (whose job is to be
// idempotent) and each is acknowledged.
func TestNotifyHandlerDuplicateDeliveries(t *testing.T) {
	t.Parallel()
	s := xNewShop(t, wxpay.SignMD5)
	resp := s.order(t, "N2")
	_, err := s.wx.Pay(wxpaytest.PayOptions{PrepayID: resp.PrepayID, Copies: 3, Concurrent: true})
	require.NoError(t, err)
	s.waitAcked(t, "N2")
	got := s.notifications()
	require.Len(t, got, 3)
	for _, n := range got {
		assert.Equal(t, got[0].TransactionID, n.TransactionID)
		assert.Equal(t, int64(888), n.TotalFee)
	}
	for _, d := range s.wx.Deliveries("N2") {
		assert.True(t, d.Acked, "copy %d", d.Copy)
		assert.Equal(t, 1, d.Attempt)
	}
}

// TestNotifyHandlerFailureIsRetried: when fn fails, the reply tells
// WeChat to retry, and the retry is acknowledged once fn succeeds.
func TestNotifyHandlerFailureIsRetried(t *testing.T) {
	t.Parallel()
	s := xNewShop(t, wxpay.SignMD5)
	s.fail = 1
	resp := s.order(t, "N3")
	_, err := s.wx.Pay(wxpaytest.PayOptions{PrepayID: resp.PrepayID})
	require.NoError(t, err)
	s.waitAcked(t, "N3")
	d := s.wx.Deliveries("N3")
	require.Len(t, d, 2)
	assert.False(t, d[0].Acked)
	assert.Equal(t, http.StatusInternalServerError, d[0].StatusCode)
	assert.Equal(t, xReplyFailed, string(d[0].Reply))
	assert.True(t, d[1].Acked)
	assert.Equal(t, 2, d[1].Attempt)
	assert.Len(t, s.notifications(), 1)
}

// TestNotifyHandlerTamperedDelivery: a delivery changed on the way (a
// smaller amount, a re-signed body under another key, one field dropped)
// never reaches fn and is answered FAIL, so WeChat retries with the
// genuine body, which is accepted.
func TestNotifyHandlerTamperedDelivery(t *testing.T) {
	t.Parallel()
	for name, tamper := range map[string]func([]byte) []byte{
		"amount changed": func(b []byte) []byte {
			return bytes.Replace(b, []byte("<total_fee>888</total_fee>"), []byte("<total_fee>1</total_fee>"), 1)
		},
		"re-signed with another key": func(b []byte) []byte {
			p, err := wxpay.DecodeXML(b)
			if err != nil {
				return nil
			}
			signer, err := wxpay.NewSigner("0123456789abcdef0123456789abcdef", wxpay.SignMD5)
			if err != nil {
				return nil
			}
			p["sign"] = signer.Sign(p)
			out, _ := wxpay.EncodeXML(p)
			return out
		},
		"field dropped": func(b []byte) []byte {
			return bytes.Replace(b, []byte("<appid>"+xAppID+"</appid>"), nil, 1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := xNewShop(t, wxpay.SignMD5)
			resp := s.order(t, "N4")
			_, err := s.wx.Pay(wxpaytest.PayOptions{PrepayID: resp.PrepayID, Tamper: func(attempt int, b []byte) []byte {
				if attempt == 1 {
					return tamper(b)
				}
				return b
			}})
			require.NoError(t, err)
			s.waitAcked(t, "N4")
			d := s.wx.Deliveries("N4")
			require.Len(t, d, 2)
			require.NotEqual(t, string(d[0].Body), string(d[1].Body), "the tamper changed nothing")
			assert.False(t, d[0].Acked)
			assert.Equal(t, http.StatusBadRequest, d[0].StatusCode)
			assert.Equal(t, xReplyInvalid, string(d[0].Reply))
			assert.True(t, d[1].Acked)
			got := s.notifications()
			require.Len(t, got, 1, "fn saw the tampered delivery")
			assert.Equal(t, int64(888), got[0].TotalFee)
		})
	}
}
