package shop

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"unicode/utf8"
)

// Refund states. A refund is pending from the moment its out_refund_no is
// stored until WeChat's answer is known; pending and processing refunds,
// like successful ones, count against what is left to refund.
const (
	RefundPending    = "pending"    // stored; WeChat's answer not known yet
	RefundProcessing = "processing" // WeChat accepted it; the money is on its way
	RefundSucceeded  = "success"    // the money is back with the payer
	RefundClosed     = "closed"     // WeChat closed it (REFUNDCLOSE); nothing was refunded
	RefundChange     = "change"     // WeChat could not pay it out (CHANGE): a person must act
	RefundRefused    = "refused"    // WeChat refused it with a definite answer; nothing was refunded
)

// Limits on refunds.
const (
	// MaxRefundsPerOrder is WeChat's limit on partial refunds of one
	// payment.
	MaxRefundsPerOrder = 50
	// MaxRefundReason is the length, in characters, of refund_desc that
	// WeChat shows the payer.
	MaxRefundReason = 80
)

// Refund is a refund of (part of) an order, as GET /orders/{id} and
// POST /orders/{id}/refund show it.
type Refund struct {
	OutRefundNo string    `json:"out_refund_no"`
	AmountFen   int64     `json:"amount_fen"`
	Status      string    `json:"status"`
	Reason      string    `json:"reason,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	// SettledAt is when the refund reached a final state (success,
	// closed, change).
	SettledAt *time.Time `json:"settled_at,omitempty"`
}

// RefundRequest is what the shop asks WeChat to refund.
type RefundRequest struct {
	OutTradeNo    string
	TransactionID string
	OutRefundNo   string
	TotalFen      int64 // what was paid
	RefundFen     int64
	Reason        string
}

// RefundResult is a refund outcome from WeChat (a refund notification,
// confirmed with WeChat before it gets here).
type RefundResult struct {
	OutTradeNo  string
	OutRefundNo string
	RefundID    string
	RefundFen   int64
	// Status is WeChat's refund_status: SUCCESS, REFUNDCLOSE or CHANGE
	// (PROCESSING changes nothing).
	Status      string
	SuccessTime time.Time
}

// Refunder is what refunds need from WeChat Pay; package app adapts the
// wxpay library to it.
type Refunder interface {
	// Refund asks WeChat to refund. It returns the refund_id on
	// acceptance; an error wrapping ErrRefundRefused when WeChat refused
	// it for good; an error wrapping ErrRefundRetry when the same request
	// may be sent again at once; any other error when the outcome is
	// unknown.
	Refund(ctx context.Context, r RefundRequest) (refundID string, err error)
	// RefundNotifyHandler returns the handler of the refund notify_url:
	// it calls fn with each notification it has confirmed with WeChat
	// and answers SUCCESS only when fn returned nil.
	RefundNotifyHandler(fn func(ctx context.Context, r RefundResult) error) http.Handler
}

// Answers of a Refunder.
var (
	ErrRefundRefused = errors.New("shop: WeChat refused the refund")
	ErrRefundRetry   = errors.New("shop: refund may be retried with the same out_refund_no")
)

// Refunds refunds paid orders for an administrator. Its methods are safe
// for concurrent use.
type Refunds struct {
	s *Service
	r Refunder
}

// NewRefunds returns the refunds of s, made through r.
func NewRefunds(s *Service, r Refunder) (*Refunds, error) {
	if s == nil || r == nil {
		return nil, errors.New("shop: NewRefunds needs a Service and a Refunder")
	}
	rf := &Refunds{s: s, r: r}
	s.refunds = rf
	return rf, nil
}

// NotifyHandler is the handler of the refund notify_url.
func (rf *Refunds) NotifyHandler() http.Handler { return rf.r.RefundNotifyHandler(rf.Settle) }

// NotifyHandlerOf is the handler of the refund notify_url that r (a
// generation of WeChat Pay other than the one refunds are made with)
// verifies: refunds asked for before a switch from v2 to v3 still settle
// when their notification comes.
func (rf *Refunds) NotifyHandlerOf(r Refunder) http.Handler { return r.RefundNotifyHandler(rf.Settle) }

type refundRow struct {
	Refund
	orderID       int64
	failure       string
	transactionID string
	outTradeNo    string
	paidFen       int64
}

// Refund refunds amountFen of a paid order, for an administrator.
// idemKey is required: the same key with the same order, amount and
// reason returns the same refund (created is then false) and other ones
// are refused. The refunds of an order never add up to more than was
// paid: the check and the new refund's row are one transaction, and the
// row, with its out_refund_no, is stored before WeChat is asked, so a
// request repeated after an unclear answer (or WeChat's SYSTEMERROR)
// sends the same out_refund_no, which WeChat refunds once.
func (rf *Refunds) Refund(ctx context.Context, orderID, amountFen int64, reason, idemKey string) (r Refund, created bool, err error) {
	s := rf.s
	if idemKey == "" || len(idemKey) > 128 || !printableASCII(idemKey) {
		return Refund{}, false, Errorf(CodeInvalid, "an Idempotency-Key header of 1 to 128 printable ASCII characters is required")
	}
	if amountFen < 1 || amountFen > MaxOrderFen {
		return Refund{}, false, Errorf(CodeInvalid, "amount_fen must be an integer from 1 to %d", MaxOrderFen)
	}
	if !validReason(reason) {
		return Refund{}, false, Errorf(CodeInvalid, "reason must be at most %d characters, without control characters, '&' or '='", MaxRefundReason)
	}
	sum := sha256.Sum256([]byte(strconv.FormatInt(orderID, 10) + "\n" + strconv.FormatInt(amountFen, 10) + "\n" + reason))
	hash := hex.EncodeToString(sum[:])

	var outRefundNo string
	err = s.store.Update(ctx, func(tx StoreTx) error {
		created = false
		prevOrder, prevHash, prevNo, known, err := tx.RefundByKey(idemKey)
		switch {
		case err != nil:
			return err
		case known && prevHash == hash && prevOrder == orderID:
			outRefundNo = prevNo
			return nil
		case known:
			return Errorf(CodeIdempotency, "Idempotency-Key was already used with a different refund")
		}
		o, ok, err := tx.RefundableOrder(orderID)
		if err != nil {
			return err
		} else if !ok {
			return Errorf(CodeNotFound, "no order %d", orderID)
		}
		if o.status != StatusPaid || !o.paid {
			return Errorf(CodeConflict, "order %d is %s: only a paid order can be refunded", orderID, o.status)
		}
		n, err := tx.RefundCount(orderID)
		if err != nil {
			return err
		}
		if n >= MaxRefundsPerOrder {
			return Errorf(CodeConflict, "order %d already has %d refunds, WeChat's limit", orderID, n)
		}
		if ok, err := tx.ReserveRefund(orderID, amountFen); err != nil {
			return err
		} else if !ok {
			return Errorf(CodeConflict, "order %d: refunding %s would exceed the %s paid; %s is left to refund",
				orderID, FormatYuan(amountFen), FormatYuan(o.totalFen), FormatYuan(o.totalFen-o.refunded))
		}
		if outRefundNo, err = newOutTradeNo(); err != nil {
			return err
		}
		if err := tx.InsertRefund(outRefundNo, orderID, idemKey, hash, amountFen, reason, s.now()); err != nil {
			return err
		}
		created = true
		if s.jobs == nil {
			return errors.New("shop: no job runner attached")
		}
		return tx.ScheduleJob(s.jobs, RefundRetryArgs{OutRefundNo: outRefundNo, Mode: s.jobs.mode}, time.Now().Add(s.real(refundRetryAfter)))
	})
	var se *Error
	if err != nil && !errors.As(err, &se) {
		// With row locks instead of one writer (PostgreSQL), the same key
		// sent twice at once can lose the race to its twin at the unique
		// index: then the twin's refund is this one.
		if prevOrder, prevHash, prevNo, ok, _ := s.store.RefundByKey(ctx, idemKey); ok &&
			prevHash == hash && prevOrder == orderID {
			err, created, outRefundNo = nil, false, prevNo
		}
	}
	if err != nil {
		return Refund{}, false, err
	}
	row, err := s.store.RefundRow(ctx, outRefundNo)
	if err != nil {
		return Refund{}, false, err
	}
	if created {
		s.log.Info("refund stored", "order_id", orderID, "out_refund_no", outRefundNo, "amount_fen", amountFen)
	}
	switch row.Status {
	case RefundRefused:
		return Refund{}, false, refundRefused(row.OutRefundNo, row.failure)
	case RefundPending:
		if err := rf.send(ctx, row); err != nil {
			return Refund{}, false, err
		}
	}
	return row.Refund, created, nil
}

// send asks WeChat for a pending refund, retrying at once (a few times,
// with the same out_refund_no) when WeChat says so, and records the
// answer. An unknown outcome leaves the refund pending: the caller repeats
// the request with the same Idempotency-Key.
func (rf *Refunds) send(ctx context.Context, row *refundRow) error {
	s := rf.s
	req := RefundRequest{
		OutTradeNo: row.outTradeNo, TransactionID: row.transactionID, OutRefundNo: row.OutRefundNo,
		TotalFen: row.paidFen, RefundFen: row.AmountFen, Reason: row.Reason,
	}
	var refundID string
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		refundID, err = rf.r.Refund(cctx, req)
		cancel()
		if !errors.Is(err, ErrRefundRetry) || ctx.Err() != nil {
			break
		}
		s.log.Warn("refund: WeChat asks to retry; retrying with the same out_refund_no", "out_refund_no", row.OutRefundNo, "error", err.Error())
	}
	switch {
	case err == nil:
		if err := s.store.MarkRefundProcessing(context.WithoutCancel(ctx), row.OutRefundNo, refundID); err != nil {
			return err
		}
		if row.Status == RefundPending {
			row.Status = RefundProcessing
		}
		s.log.Info("refund accepted by WeChat", "order_id", row.orderID, "out_refund_no", row.OutRefundNo)
		// A notification may have settled it already.
		if fresh, err := s.store.RefundRow(ctx, row.OutRefundNo); err == nil {
			*row = *fresh
		}
		return nil
	case errors.Is(err, ErrRefundRefused):
		// What is stored is what the client is shown: the safe reason
		// (WeChat's err_code), never the library's text.
		failure := "refused"
		var ue *UpstreamError
		if errors.As(err, &ue) && ue.Reason != "" {
			failure = ue.Reason
		}
		if len(failure) > 200 {
			failure = failure[:200]
		}
		if err := s.store.Update(ctx, func(tx StoreTx) error {
			refused, err := tx.RefuseRefund(row.OutRefundNo, failure, s.now())
			if err != nil || !refused {
				return err
			}
			return tx.ReleaseRefund(row.orderID, row.AmountFen)
		}); err != nil {
			return err
		}
		s.log.Warn("refund refused by WeChat", "order_id", row.orderID, "out_refund_no", row.OutRefundNo, "error", err.Error())
		return refundRefused(row.OutRefundNo, failure)
	default:
		s.log.Warn("refund outcome unknown; it stays pending under its out_refund_no", "order_id", row.orderID,
			"out_refund_no", row.OutRefundNo, "error", err.Error())
		// Even a busy WeChat (SYSTEMERROR) may have refunded: after the
		// retries, the outcome is unknown whatever the last answer was.
		return UpstreamAPIError("refund "+row.OutRefundNo, refundRetry, &UpstreamError{Op: "refund", Kind: UpstreamUnknown, Err: err})
	}
}

// refundRetry is how the admin repeats a refund whose outcome is unknown.
const refundRetry = "repeat the request with the same Idempotency-Key (it reuses out_refund_no, so WeChat refunds once)"

// refundRefused is the answer for a refund WeChat refused, the first time
// and every time after.
func refundRefused(outRefundNo, reason string) error {
	// Earlier versions stored the library's text; show only its code.
	if r, ok := strings.CutPrefix(reason, "shop: WeChat refused the refund: "); ok {
		reason, _, _ = strings.Cut(r, " ")
	}
	return UpstreamAPIError("refund "+outRefundNo, "", &UpstreamError{Op: "refund", Kind: UpstreamRefused, Reason: reason})
}

// Settle applies a refund outcome WeChat notified (and confirmed), in one
// transaction, once: the refund moves from pending or processing to its
// final state at most once, so the same notification delivered many times
// changes nothing after the first. A closed refund gives its amount back
// to what may be refunded. An outcome that does not match the stored
// refund is logged and acknowledged: WeChat sending it again cannot change
// that. It returns nil only after the commit.
func (rf *Refunds) Settle(ctx context.Context, res RefundResult) error {
	s := rf.s
	var status string
	switch res.Status {
	case "SUCCESS":
		status = RefundSucceeded
	case "REFUNDCLOSE":
		status = RefundClosed
	case "CHANGE":
		status = RefundChange
	default:
		s.log.Info("refund notification without a final state; nothing to do", "out_refund_no", res.OutRefundNo, "status", res.Status)
		return nil
	}
	var problem string
	var changed bool
	var orderID int64
	err := s.store.Update(ctx, func(tx StoreTx) error {
		problem, changed = "", false
		var amount int64
		var otn string
		var ok bool
		var err error
		if orderID, amount, otn, ok, err = tx.RefundForResult(res.OutRefundNo); err != nil {
			return err
		} else if !ok {
			problem = "unknown out_refund_no"
			return nil
		}
		if amount != res.RefundFen || otn != res.OutTradeNo {
			problem = "refund does not match the stored one"
			return nil
		}
		settled := s.now()
		if !res.SuccessTime.IsZero() {
			settled = res.SuccessTime
		}
		if changed, err = tx.SettleRefund(res.OutRefundNo, status, settled, res.RefundID); err != nil || !changed {
			return err // !changed: settled already, a repeated notification
		}
		if status == RefundClosed {
			return tx.ReleaseRefund(orderID, amount)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("shop: settle refund: %w", err)
	}
	switch {
	case problem != "":
		s.log.Error("refund notification not applied; needs a person", "problem", problem, "out_refund_no", res.OutRefundNo,
			"out_trade_no", res.OutTradeNo, "refund_fen", res.RefundFen, "status", res.Status)
	case changed && status == RefundChange:
		s.log.Error("refund could not be paid out (CHANGE); refund it by hand on the merchant platform", "order_id", orderID, "out_refund_no", res.OutRefundNo)
	case changed:
		s.log.Info("refund settled", "order_id", orderID, "out_refund_no", res.OutRefundNo, "status", status)
	}
	return nil
}

// validReason reports whether reason may go to WeChat as refund_desc: at
// most MaxRefundReason characters of valid UTF-8, without control
// characters or the characters that could reshape a signed string.
func validReason(reason string) bool {
	if !utf8.ValidString(reason) || utf8.RuneCountInString(reason) > MaxRefundReason {
		return false
	}
	for _, r := range reason {
		if r < ' ' || r == 0x7f || r == '&' || r == '=' {
			return false
		}
	}
	return true
}
