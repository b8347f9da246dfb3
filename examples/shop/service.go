package shop

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wxpay-go/wxpay"
)

// Timing holds the durations of the payment life cycle. The zero value of
// each field means its default, which follows WeChat's rules; only tests
// against a sped-up fake WeChat should need other values.
type Timing struct {
	// PayWindow is how long an out_trade_no stays payable (its
	// time_expire). Default 15 minutes.
	PayWindow time.Duration
	// CloseMinAge is WeChat's rule that an order cannot be closed within
	// 5 minutes of its creation. Default 5 minutes.
	CloseMinAge time.Duration
	// QueryAfter is how long after prepay reconciliation first asks
	// WeChat about an order whose notification has not arrived. Default 3
	// minutes.
	QueryAfter time.Duration
	// QueryEvery is how often reconciliation asks again until the order
	// is paid or closed. Default 2 minutes.
	QueryEvery time.Duration
}

func (t Timing) withDefaults() Timing {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.PayWindow, 15*time.Minute)
	def(&t.CloseMinAge, 5*time.Minute)
	def(&t.QueryAfter, 3*time.Minute)
	def(&t.QueryEvery, 2*time.Minute)
	return t
}

// Config configures a Service.
type Config struct {
	// Mode is ModeFake or ModeReal: the queue of the jobs, and the mode
	// each job records and is refused outside of (see NewJobs).
	Mode     string
	DB       *DB
	Payments Payments
	Login    Login
	Logger   *slog.Logger // nil discards
	// Now is the business clock (order times, time_start, time_expire,
	// WeChat's 5 minutes); nil means time.Now.
	Now    func() time.Time
	Timing Timing
	// Speed says how much faster than real time Now runs (a sped-up fake
	// WeChat); jobs divide their waits by it. 0 means 1.
	Speed float64
	// Unmetered lifts the per-user budget of the order queries GetOrder
	// makes (UserQueryRate), for load tests; the per-order interval stays.
	Unmetered bool
}

// Service is the shop. Its methods are safe for concurrent use.
type Service struct {
	mode  string
	db    *DB
	pay   Payments
	login Login
	log   *slog.Logger
	now   func() time.Time
	t     Timing
	speed float64
	jobs  *Jobs
	// refunds, once NewRefunds made them, for the refund retry jobs.
	refunds *Refunds

	// store keeps everything the shop knows (see [Store]); db is the
	// database under it, for the job queue.
	store Store

	// The orderquery calls GetOrder makes (WeChat rate-limits them per
	// merchant): at most one per out_trade_no every queryInterval, and a
	// budget per user, so that polling clients cannot turn into a flood,
	// and one user with many orders cannot take the others' share.
	queried, userQueries *Limiter
}

// queryInterval is the least time between two orderquery calls GetOrder
// makes for one out_trade_no; reconciliation runs regardless.
const queryInterval = 3 * time.Second

// UserQueryRate is each user's budget of the orderquery calls GetOrder
// makes: past it, GetOrder returns the stored state (the reconciliation
// job still asks WeChat on its own schedule).
var UserQueryRate = Rate{Every: 3 * time.Second, Burst: 5}

// maxMeteredKeys bounds each table of the limiters: users, addresses,
// out_trade_nos.
const maxMeteredKeys = 10_000

// mayQuery reports whether GetOrder may ask WeChat about outTradeNo for
// user now, and if so counts it.
func (s *Service) mayQuery(userID int64, outTradeNo string) bool {
	if ok, _ := s.queried.Allow(outTradeNo); !ok {
		return false
	}
	ok, _ := s.userQueries.Allow(strconv.FormatInt(userID, 10))
	return ok
}

// NewService returns the shop for cfg. Attach the job runner with
// [NewJobs] before serving payments.
func NewService(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Payments == nil || cfg.Login == nil {
		return nil, errors.New("shop: Config needs DB, Payments and Login")
	}
	if cfg.Mode != ModeFake && cfg.Mode != ModeReal {
		return nil, fmt.Errorf("shop: Config.Mode must be %q or %q", ModeFake, ModeReal)
	}
	s := &Service{mode: cfg.Mode, db: cfg.DB, pay: cfg.Payments, login: cfg.Login, log: cfg.Logger, now: cfg.Now, t: cfg.Timing.withDefaults(),
		queried: NewLimiter(Rate{Every: queryInterval, Burst: 1}, maxMeteredKeys), userQueries: NewLimiter(UserQueryRate, maxMeteredKeys)}
	if cfg.Unmetered {
		s.userQueries = NewLimiter(Unlimited, 1)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.speed = cfg.Speed
	if s.speed <= 0 {
		s.speed = 1
	}
	st, err := newStore(cfg.DB)
	if err != nil {
		return nil, err
	}
	s.store = st
	return s, nil
}

// Ping reports whether the store answers.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

// real converts a duration of the business clock into wall-clock time.
func (s *Service) real(d time.Duration) time.Duration {
	return time.Duration(float64(d) / s.speed)
}

// --- users -------------------------------------------------------------

// Login exchanges a wx.login code for the user, creating the user on first
// login. Only the openid is kept.
func (s *Service) Login(ctx context.Context, code string) (User, error) {
	if err := CheckLoginCode(code); err != nil {
		return User{}, err
	}
	openID, err := s.login.OpenID(ctx, code)
	if errors.Is(err, ErrBadCode) {
		return User{}, Errorf(CodeUnauthorized, "WeChat refused the login code; call wx.login again")
	}
	if err != nil {
		return User{}, s.upstream("login", "call wx.login again and log in with the new code", err)
	}
	u := User{OpenID: openID}
	err = s.store.Update(ctx, func(tx StoreTx) (err error) {
		u.ID, err = tx.UpsertUser(newID(), openID, s.now())
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("shop: login: %w", err)
	}
	return u, nil
}

// UserByID returns the user with id, for the JWT middleware.
func (s *Service) UserByID(ctx context.Context, id int64) (User, error) {
	openID, ok, err := s.store.UserOpenID(ctx, id)
	if err == nil && !ok {
		return User{}, Errorf(CodeUnauthorized, "unknown user")
	}
	return User{ID: id, OpenID: openID}, err
}

// upstream logs a failed WeChat call (the libraries' errors hold no
// secret) and returns what the client sees, through the one mapping of
// [UpstreamAPIError]. what names the action; retry says how the client
// repeats it safely when the outcome is unknown.
func (s *Service) upstream(what, retry string, err error) error {
	s.log.Warn("WeChat call failed", "action", what, "error", err.Error())
	return UpstreamAPIError(what, retry, err)
}

// payRetry is how a client repeats a payment whose outcome is unknown.
const payRetry = "repeat POST /orders/{id}/pay; it sends the same out_trade_no, so the order is paid at most once"

// --- catalogue ---------------------------------------------------------

func (p PageRequest) clamp() (page, limit, offset int) {
	page, limit = p.Page, p.Limit
	if page < 1 {
		page = 1
	}
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxPageLimit)
	return page, limit, (page - 1) * limit
}

// ListShops returns a page of shops.
func (s *Service) ListShops(ctx context.Context, pr PageRequest) (Page[Shop], error) {
	page, limit, offset := pr.clamp()
	items, total, err := s.store.ShopsPage(ctx, limit, offset)
	return Page[Shop]{Items: items, Page: page, Limit: limit, Total: total}, err
}

// ListGoods returns a page of a shop's goods.
func (s *Service) ListGoods(ctx context.Context, shopID int64, pr PageRequest) (Page[Goods], error) {
	page, limit, offset := pr.clamp()
	items, total, ok, err := s.store.GoodsPage(ctx, shopID, limit, offset)
	out := Page[Goods]{Items: items, Page: page, Limit: limit, Total: total}
	if err == nil && !ok {
		return out, Errorf(CodeNotFound, "no shop %d", shopID)
	}
	return out, err
}

// --- orders ------------------------------------------------------------

// CreateOrder places an order for the items, pricing them from the
// database. With a non-empty idemKey, repeating the call with the same
// items returns the first order (created is then false) and other items
// are refused.
func (s *Service) CreateOrder(ctx context.Context, u User, items []Item, idemKey string) (o Order, created bool, err error) {
	if err := checkItems(items); err != nil {
		return Order{}, false, err
	}
	if idemKey != "" && (len(idemKey) > 128 || !printableASCII(idemKey)) {
		return Order{}, false, Errorf(CodeInvalid, "Idempotency-Key must be 1 to 128 printable ASCII characters")
	}
	sorted := slices.Clone(items)
	slices.SortFunc(sorted, func(a, b Item) int { return cmpInt(a.GoodsID, b.GoodsID) })
	canon, _ := json.Marshal(sorted)
	sum := sha256.Sum256(canon)
	hash := hex.EncodeToString(sum[:])

	var orderID int64
	err = s.store.Update(ctx, func(tx StoreTx) error {
		created = false // a run again (see Store.Update) starts afresh
		if idemKey != "" {
			h, id, ok, err := tx.IdempotencyKey(u.ID, idemKey)
			switch {
			case ok && h == hash:
				orderID = id
				return nil
			case ok:
				return Errorf(CodeIdempotency, "Idempotency-Key was already used with a different order")
			case err != nil:
				return err
			}
		}
		goods := make(map[int64]Goods, len(sorted))
		for _, it := range sorted {
			g, ok, err := tx.Goods(it.GoodsID)
			if err != nil {
				return err
			} else if !ok {
				return Errorf(CodeInvalid, "unknown goods_id %d", it.GoodsID)
			}
			goods[g.ID] = g
		}
		var total int64
		var shopID int64
		lines := make([]Line, 0, len(sorted))
		for _, it := range sorted {
			g, ok := goods[it.GoodsID]
			if !ok {
				return Errorf(CodeInvalid, "unknown goods_id %d", it.GoodsID)
			}
			if shopID == 0 {
				shopID = g.ShopID
			} else if shopID != g.ShopID {
				return Errorf(CodeInvalid, "all goods of an order must come from one shop")
			}
			sub, ok := mulFen(g.PriceFen, it.Count)
			if ok {
				total, ok = addFen(total, sub)
			}
			if !ok || total > MaxOrderFen {
				return Errorf(CodeInvalid, "order total exceeds %s", FormatYuan(MaxOrderFen))
			}
			lines = append(lines, Line{GoodsID: g.ID, Name: g.Name, PriceFen: g.PriceFen, Count: it.Count, SubtotalFen: sub})
		}
		orderID = newID()
		// The store keeps times to the millisecond: the order returned is
		// the order a later read returns.
		placed := Order{ID: orderID, ShopID: shopID, Status: StatusUnpaid, TotalFen: total, Lines: lines, CreatedAt: fromMS(ms(s.now()))}
		if err := tx.InsertOrder(placed, u.ID, idemKey, hash); err != nil {
			return err
		}
		created = true
		o = placed
		return nil
	})
	if err != nil || created {
		return o, created, err
	}
	// A repeated Idempotency-Key: the order as it stands now. The commit
	// has returned, so the readers see it.
	o, err = s.order(ctx, u.ID, orderID)
	return o, false, err
}

func checkItems(items []Item) error {
	if len(items) == 0 {
		return Errorf(CodeInvalid, "an order needs at least one item")
	}
	if len(items) > MaxOrderLines {
		return Errorf(CodeInvalid, "an order has at most %d items", MaxOrderLines)
	}
	seen := make(map[int64]bool, len(items))
	for _, it := range items {
		if it.GoodsID <= 0 {
			return Errorf(CodeInvalid, "goods_id must be a positive integer")
		}
		if it.Count < 1 || it.Count > MaxCount {
			return Errorf(CodeInvalid, "count of goods_id %d must be an integer from 1 to %d", it.GoodsID, MaxCount)
		}
		if seen[it.GoodsID] {
			return Errorf(CodeInvalid, "goods_id %d appears twice; use count", it.GoodsID)
		}
		seen[it.GoodsID] = true
	}
	return nil
}

// order loads one order of userID (see [Store.Order]); another user's
// order is not found.
func (s *Service) order(ctx context.Context, userID, id int64) (Order, error) {
	return orderFound(id)(s.store.Order(ctx, userID, id))
}

// latestOrder is order as [Store.LatestOrder] reads it.
func (s *Service) latestOrder(ctx context.Context, userID, id int64) (Order, error) {
	return orderFound(id)(s.store.LatestOrder(ctx, userID, id))
}

// orderFound turns a lookup of order id that found nothing into the
// client's CodeNotFound.
func orderFound(id int64) func(Order, bool, error) (Order, error) {
	return func(o Order, ok bool, err error) (Order, error) {
		if err == nil && !ok {
			return Order{}, Errorf(CodeNotFound, "no order %d", id)
		}
		return o, err
	}
}

// ListOrders returns a page of the user's own orders, newest first.
func (s *Service) ListOrders(ctx context.Context, u User, pr PageRequest) (Page[Order], error) {
	page, limit, offset := pr.clamp()
	items, total, err := s.store.UserOrders(ctx, u.ID, limit, offset)
	return Page[Order]{Items: items, Page: page, Limit: limit, Total: total}, err
}

// GetOrder returns one of the user's orders. An unpaid order that has a
// prepay_id is first checked with WeChat, and a payment found is settled
// exactly as a notification would settle it, so the user never sees
// "unpaid" for an order WeChat knows is paid.
func (s *Service) GetOrder(ctx context.Context, u User, id int64) (Order, error) {
	o, err := s.order(ctx, u.ID, id)
	if err != nil || o.Status != StatusUnpaid {
		return o, err
	}
	otn, ok, err := s.store.PrepaidOutTradeNo(ctx, id)
	if err != nil || !ok {
		return o, err
	}
	if !s.mayQuery(u.ID, otn) {
		return o, nil
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	state, p, err := s.pay.Query(qctx, otn)
	if err != nil {
		// The stored state is still true as far as we know; reconciliation
		// will ask again.
		s.log.Warn("order query failed; returning the stored state", "order_id", id, "error", err.Error())
		return o, nil
	}
	if state != QueryPaid {
		return o, nil
	}
	if err := s.Settle(ctx, *p, "query"); err != nil {
		return o, err
	}
	return s.latestOrder(ctx, u.ID, id)
}

// --- paying ------------------------------------------------------------

// PayResult is what the mini-program needs to start wx.requestPayment.
type PayResult struct {
	OrderID    int64  `json:"order_id"`
	OutTradeNo string `json:"out_trade_no"`
	// Payment is the argument object of wx.requestPayment.
	Payment any `json:"payment"`
}

// Pay returns the wx.requestPayment arguments for one of the user's
// unpaid orders. The first call stores the unifiedorder parameters under a
// new out_trade_no; later calls send exactly the same ones (WeChat then
// answers with the same prepay_id), so one order has at most one payable
// out_trade_no at a time and cannot be paid twice. Only once that
// out_trade_no has expired and WeChat has closed it is a new one issued.
func (s *Service) Pay(ctx context.Context, u User, orderID int64, clientIP string) (PayResult, error) {
	for range 3 {
		o, err := s.latestOrder(ctx, u.ID, orderID)
		if err != nil {
			return PayResult{}, err
		}
		switch o.Status {
		case StatusPaid:
			return PayResult{}, Errorf(CodeConflict, "order %d is already paid", orderID)
		case StatusClosed:
			return PayResult{}, Errorf(CodeConflict, "order %d is closed; place a new order", orderID)
		}
		a, err := s.store.OpenAttempt(ctx, orderID)
		if err != nil {
			return PayResult{}, err
		}
		if a == nil {
			if err := s.newAttempt(ctx, o, u, clientIP); err != nil {
				return PayResult{}, err
			}
			continue
		}
		if !s.now().Before(a.TimeExpire) {
			// Expired: close it with WeChat before anything else may be paid.
			if err := s.closeAttempt(ctx, a, false); err != nil {
				return PayResult{}, err
			}
			continue
		}
		if a.PrepayID == "" {
			id, err := s.pay.Prepay(ctx, a.PrepayRequest)
			switch {
			case errors.Is(err, ErrWeChatPaid):
				if err := s.querySettle(ctx, a.OutTradeNo); err != nil {
					return PayResult{}, err
				}
				continue
			case errors.Is(err, ErrWeChatClosed):
				if err := s.markAttemptClosed(ctx, a, false); err != nil {
					return PayResult{}, err
				}
				continue
			case err != nil:
				// The stored parameters stay; the next click sends them again.
				return PayResult{}, s.upstream("payment", payRetry, err)
			}
			if err := s.store.SetPrepayID(ctx, a.OutTradeNo, id); err != nil {
				return PayResult{}, err
			}
			a.PrepayID = id
		}
		params, err := s.pay.PayParams(a.PrepayID)
		if err != nil {
			return PayResult{}, err
		}
		return PayResult{OrderID: orderID, OutTradeNo: a.OutTradeNo, Payment: params}, nil
	}
	return PayResult{}, Errorf(CodeConflict, "order %d changed while paying; try again", orderID)
}

func (s *Service) newAttempt(ctx context.Context, o Order, u User, clientIP string) error {
	shopName, err := s.store.ShopName(ctx, o.ShopID)
	if err != nil {
		return err
	}
	// WeChat's time fields have one-second resolution: store what is sent.
	now := s.now().Truncate(time.Second)
	otn, err := newOutTradeNo()
	if err != nil {
		return err
	}
	a := PrepayRequest{
		OutTradeNo: otn,
		Body:       orderBody(shopName, o.Lines),
		TotalFen:   o.TotalFen,
		ClientIP:   clientIP,
		OpenID:     u.OpenID,
		TimeStart:  now,
		TimeExpire: now.Add(s.t.PayWindow),
	}
	return s.store.Update(ctx, func(tx StoreTx) error {
		status, err := tx.OrderStatus(o.ID)
		if err != nil {
			return err
		}
		if status != StatusUnpaid {
			return nil // the caller's loop reports it
		}
		if ok, err := tx.InsertAttempt(a, o.ID, s.now()); err != nil || !ok {
			return err // !ok: a concurrent click created one; use that one
		}
		if s.jobs == nil {
			return errors.New("shop: no job runner attached")
		}
		return tx.ScheduleJob(s.jobs, ReconcileArgs{OutTradeNo: a.OutTradeNo, Mode: s.jobs.mode}, time.Now().Add(s.real(s.t.QueryAfter)))
	})
}

// newOutTradeNo returns 32 random characters of [0-9A-Za-z] (a nonce of
// the library's, drawn without modulo bias): unguessable, within WeChat's
// limit of 32, and free of user data. It names refunds (out_refund_no) too.
func newOutTradeNo() (string, error) { return wxpay.NewNonce() }

// orderBody is the goods description shown to the payer: "shop-goods",
// at most 128 bytes, without the characters that could reshape a signed
// string.
func orderBody(shop string, lines []Line) string {
	body := shop
	if len(lines) > 0 {
		body += "-" + lines[0].Name
		if len(lines) > 1 {
			body += "等" + strconv.Itoa(len(lines)) + "件"
		}
	}
	body = strings.Map(func(r rune) rune {
		if r == '&' || r == '=' || r < ' ' {
			return ' '
		}
		return r
	}, body)
	for len(body) > 128 {
		_, n := utf8.DecodeLastRuneInString(body)
		body = body[:len(body)-n]
	}
	return body
}

// closeAttempt closes an out_trade_no with WeChat, not before WeChat's
// minimum age. If WeChat says it was paid meanwhile, the payment is
// settled instead. closeOrder also closes the order itself.
func (s *Service) closeAttempt(ctx context.Context, a *Attempt, closeOrder bool) error {
	if wait := a.TimeStart.Add(s.t.CloseMinAge).Sub(s.now()); wait > 0 {
		return Errorf(CodeConflict, "the payment is still being set up; try again in %d seconds", int(wait.Seconds())+1)
	}
	err := s.pay.Close(ctx, a.OutTradeNo)
	if errors.Is(err, ErrWeChatPaid) {
		return s.querySettle(ctx, a.OutTradeNo)
	}
	if err != nil {
		return s.upstream("payment", payRetry, err)
	}
	return s.markAttemptClosed(ctx, a, closeOrder)
}

func (s *Service) markAttemptClosed(ctx context.Context, a *Attempt, closeOrder bool) error {
	return s.store.Update(ctx, func(tx StoreTx) error {
		ok, err := tx.CloseAttempt(a.OutTradeNo)
		if err != nil || !ok || !closeOrder {
			return err
		}
		return tx.CloseOrder(a.OrderID, s.now())
	})
}

// querySettle asks WeChat about outTradeNo and settles it if paid. It is
// used after WeChat answered ORDERPAID, so "not paid" is an error to retry.
func (s *Service) querySettle(ctx context.Context, outTradeNo string) error {
	state, p, err := s.pay.Query(ctx, outTradeNo)
	if err != nil {
		return s.upstream("payment", payRetry, err)
	}
	if state != QueryPaid {
		e := Errorf(CodeUpstream, "WeChat's answers disagree about the payment; try again in %s", seconds(DefaultRetryAfter))
		e.RetryAfter = DefaultRetryAfter
		return e
	}
	return s.Settle(ctx, *p, "query")
}

// --- settling ----------------------------------------------------------

// Settle applies a verified payment result, from a notification or a
// query, in one transaction: the out_trade_no must be known, the amount
// must equal the order's, the order moves from unpaid to paid at most once
// and the transaction_id is recorded under a unique constraint. It returns
// nil only after the commit, which is when the notification handler may
// answer SUCCESS.
//
// Genuine results that cannot be applied (unknown out_trade_no, wrong
// amount, money for an order that is closed or already paid under another
// transaction_id) are recorded as anomalies and logged, and Settle returns
// nil for them: WeChat sending the same result again cannot change the
// answer, and the record is what a person needs to act (often a refund).
// A result that is not a success (result_code FAIL) changes nothing.
func (s *Service) Settle(ctx context.Context, p Payment, source string) error {
	if !p.Paid {
		s.log.Info("payment result FAIL; order unchanged", "out_trade_no", p.OutTradeNo, "source", source)
		return nil
	}
	if p.OutTradeNo == "" || p.TransactionID == "" {
		// Nothing can key it (and an empty key would hide every later
		// anomaly): refuse it, so that the notification comes again or
		// the job asks again.
		return fmt.Errorf("shop: settle: a paid result without out_trade_no or transaction_id (%s)", source)
	}
	if p.TimeEnd.IsZero() {
		p.TimeEnd = s.now() // WeChat did not say: when we learnt of it
	}
	var anomaly string
	var orderID int64
	var settled bool
	var recorded []recordedRefund
	err := s.store.Update(ctx, func(tx StoreTx) error {
		anomaly, settled, recorded = "", false, nil
		var total int64
		var ok bool
		var err error
		if orderID, total, _, ok, err = tx.PaymentDue(p.OutTradeNo); err != nil {
			return err
		} else if !ok {
			anomaly = "unknown_order"
			return s.recordAnomaly(tx, anomaly, p, source)
		}
		prior, ok, err := tx.PaymentByTransaction(p.TransactionID)
		switch {
		case err != nil:
			return err
		case ok && prior == p.OutTradeNo:
			// Already recorded (a repeated notification); refunds an order
			// query reports may be new.
			recorded, err = s.recordWeChatRefunds(tx, orderID, p.Refunds)
			return err
		case ok:
			anomaly = "transaction_id_reused"
			return s.recordAnomaly(tx, anomaly, p, source)
		}
		if p.TotalFen != total {
			anomaly = "amount_mismatch"
			return s.recordAnomaly(tx, anomaly, p, source)
		}
		paid, err := tx.PayOrder(orderID, p, source, s.now())
		if err != nil {
			return err
		}
		if !paid {
			// Under SQLite's single writer this transaction saw every
			// earlier one. On a database with row locks (PostgreSQL, read
			// committed), a concurrent delivery of the same notification
			// may have committed while the UPDATE waited: look again.
			prior, ok, err := tx.PaymentByTransaction(p.TransactionID)
			if err == nil && ok && prior == p.OutTradeNo {
				recorded, err = s.recordWeChatRefunds(tx, orderID, p.Refunds)
				return err
			}
			status, err := tx.OrderStatus(orderID)
			if err != nil {
				return err
			}
			// Paid already (under another transaction_id) or closed: the
			// payer was charged for an order we no longer sell.
			anomaly = "paid_when_" + status
			return s.recordAnomaly(tx, anomaly, p, source)
		}
		settled = true
		recorded, err = s.recordWeChatRefunds(tx, orderID, p.Refunds)
		return err
	})
	if err != nil {
		return fmt.Errorf("shop: settle: %w", err)
	}
	switch {
	case anomaly != "":
		s.log.Error("payment anomaly recorded; needs a person", "kind", anomaly, "out_trade_no", p.OutTradeNo,
			"transaction_id", p.TransactionID, "total_fen", p.TotalFen, "source", source)
	case settled:
		s.log.Info("order paid", "order_id", orderID, "out_trade_no", p.OutTradeNo, "source", source)
	}
	s.logWeChatRefunds(orderID, recorded)
	return nil
}

func (s *Service) recordAnomaly(tx StoreTx, kind string, p Payment, source string) error {
	return tx.RecordAnomaly(newID(), kind, p, source, s.now())
}

// --- reconciliation ----------------------------------------------------

// Reconcile checks one out_trade_no with WeChat: a payment found is
// settled, and an out_trade_no past its expiry is closed with WeChat
// (which, if it was paid meanwhile, settles it instead), and its order
// with it. done is false while the out_trade_no can still be paid: ask
// again after the returned duration.
func (s *Service) Reconcile(ctx context.Context, outTradeNo string) (done bool, after time.Duration, err error) {
	a, err := s.store.Attempt(ctx, outTradeNo)
	if err != nil || a == nil || a.State != "open" {
		return true, 0, err
	}
	state, p, err := s.pay.Query(ctx, outTradeNo)
	if err != nil {
		return false, 0, fmt.Errorf("shop: reconcile: %w", err)
	}
	now := s.now()
	closeAt := a.TimeExpire
	if t := a.TimeStart.Add(s.t.CloseMinAge); t.After(closeAt) {
		closeAt = t
	}
	switch state {
	case QueryPaid:
		return true, 0, s.Settle(ctx, *p, "query")
	case QueryClosed:
		return true, 0, s.markAttemptClosed(ctx, a, true)
	}
	if now.Before(closeAt) {
		return false, min(s.t.QueryEvery, closeAt.Sub(now)+time.Second), nil
	}
	if state == QueryNotFound {
		// The prepay never reached WeChat: nothing there can be paid.
		return true, 0, s.markAttemptClosed(ctx, a, true)
	}
	if err := s.closeAttempt(ctx, a, true); err != nil {
		return false, 0, fmt.Errorf("shop: reconcile: %w", err)
	}
	return true, 0, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
