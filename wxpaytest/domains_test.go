package wxpaytest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// Every domain of the fake at once: orders placed, paid and queried,
// refunds made and queried, bills downloaded, notifications delivered and
// dropped, users logging in, faults injected and cleared, all from
// concurrent goroutines. Under -race this holds the domains' locks to
// their order (a deadlock hangs the test); afterwards the books balance.
func TestDomainsConcurrently(t *testing.T) {
	ack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>"))
	}))
	defer ack.Close()
	cfg := testConfig()
	cfg.RefundImmediately = true
	cfg.RefundNotifyURL = ack.URL + "/refund"
	s, c := tlsFake(t, cfg)
	mp := miniClient(t, s, testSecret)

	const workers = 6
	day := s.Now().In(time.FixedZone("CST", 8*3600)).Format("20060102") // bills are by day in UTC+8
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			no := fmt.Sprintf("dom-%d", i)
			req := jsapiOrder(no, 300)
			req.NotifyURL = ack.URL + "/pay"
			_, err := c.UnifiedOrder(ctxT(t), req)
			assert.NoError(t, err)
			_, err = s.Pay(wxpaytest.PayOptions{OutTradeNo: no})
			assert.NoError(t, err)
			for r := range 2 {
				_, err := c.Refund(ctxT(t), refundReq(no, fmt.Sprintf("%s-r%d", no, r), 300, 100))
				assert.NoError(t, err)
			}
			_, err = c.RefundQuery(ctxT(t), &wxpay.RefundQueryRequest{OutTradeNo: no})
			assert.NoError(t, err)
			_, err = c.OrderQuery(ctxT(t), &wxpay.OrderQueryRequest{OutTradeNo: no})
			assert.NoError(t, err)
			var bill bytes.Buffer
			_, err = c.DownloadBill(ctxT(t), &wxpay.DownloadBillRequest{BillDate: day}, &bill)
			assert.NoError(t, err)
			_, err = mp.Code2Session(ctxT(t), s.LoginCode(""))
			assert.NoError(t, err)
			s.Inject(wxpaytest.EndpointCloseOrder, 1, wxpaytest.Fault{ErrCode: wxpay.ErrCodeSystemError})
			s.ClearFaults(wxpaytest.EndpointCloseOrder)
			_ = s.Orders()
			_ = s.Refunds(no)
			_ = s.Deliveries(no)
			_ = s.RefundDeliveries(no + "-r0")
			if i%2 == 1 {
				s.DropNotifications(no)
			}
		}()
	}
	wg.Wait()

	for i := range workers {
		no := fmt.Sprintf("dom-%d", i)
		o, ok := s.Order(no)
		require.True(t, ok, no)
		assert.Equal(t, wxpaytest.StateRefund, o.State, no)
		rs := s.Refunds(no)
		require.Len(t, rs, 2, no)
		for _, r := range rs {
			assert.Equal(t, wxpaytest.RefundSuccess, r.Status, r.OutRefundNo)
		}
		if i%2 == 0 {
			require.NoError(t, s.WaitAcked(ctxT(t), no))
			require.NoError(t, s.WaitRefundAcked(ctxT(t), no+"-r1"))
		}
	}
	var bill bytes.Buffer
	_, err := c.DownloadBill(ctxT(t), &wxpay.DownloadBillRequest{BillDate: day}, &bill)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(bill.String(), "\r\n"), "\r\n")
	assert.Len(t, lines, 1+3*workers+2, "header, a payment and two refunds per order, summary")
}
