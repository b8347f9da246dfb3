// Package wxpaytest is a fake WeChat Pay (API v2) and mini-program login
// server for tests, demos and scripts: what [net/http/httptest] is to HTTP,
// it is to WeChat Pay. It never calls WeChat, needs no merchant account,
// and imports only the standard library and wxpay (not "testing", so
// `go run` programs use it too).
//
// [NewServer] starts one on loopback; give its URL to wxpay.WithBaseURL and
// miniprogram.WithBaseURL. A [Fake] is also an [http.Handler] that a
// program can mount under a prefix of its own server.
//
// # What it reproduces
//
//   - unifiedorder, orderquery and closeorder with WeChat's checks:
//     signature under the merchant's sign type (a sign_type naming another
//     algorithm is refused), appid and mch_id, required fields, formats
//     (out_trade_no, total_fee, spbill_create_ip, notify_url, trade_type
//     with openid for JSAPI and product_id for NATIVE, time_start,
//     time_expire), answered in WeChat's shapes: return_code FAIL,
//     unsigned, with WeChat's wording for malformed requests (签名错误 for a
//     bad sign), result_code FAIL with err_code for business failures,
//     every SUCCESS answer signed.
//   - An order state machine: NOTPAY, then SUCCESS (paid) or CLOSED.
//     A repeated unifiedorder with the same fields returns the same
//     prepay_id (a new one after [PrepayLife]); with other fields it is a
//     duplicate (INVALID_REQUEST "201 商户订单号重复", or OUT_TRADE_NO_USED,
//     see Config.DuplicateOrderCode); ORDERPAID and ORDERCLOSED where
//     WeChat gives them; closeorder refused within [CloseDelay] of
//     creation; an unpaid order past its time_expire is closed.
//   - Paying ([Fake.Pay], or POST /wxpaytest/pay with the
//     wx.requestPayment arguments, whose paySign is checked), then payment
//     notifications signed with the order's algorithm and without
//     sign_type, as WeChat sends them, retried on WeChat's schedule
//     ([NotifySchedule]) until acknowledged; every attempt is kept
//     ([Fake.Deliveries]).
//   - Mini-program login: login codes ([Fake.LoginCode]) accepted once
//     within [CodeLife] by jscode2session (40029, 40163, 45011 as WeChat
//     gives them), token and stable_token, getuserphonenumber with phone
//     codes ([Fake.PhoneCode]), and wx.getUserInfo's encryptedData and iv
//     ([Fake.UserInfo]).
//   - Faults ([Fake.Inject]): err_codes, return_code FAIL, mini-program
//     errcodes, HTML error pages, delays, dropped connections and answers
//     signed with the wrong key; notifications duplicated, concurrent,
//     tampered or never sent ([PayOptions], [Fake.DropNotifications]).
//
// Every duration (the retry schedule, code and token lives, the 5-minute
// closeorder rule, the 2-hour prepay_id) runs on the fake's clock, which
// Config.Speed speeds up and Config.Now replaces.
//
// # What it does not reproduce
//
// Refunds, refundquery, bills, micropay, reverse, the sandbox, service
// provider (sub_mch_id) mode, APP and Native payment by a real device
// (orders of those types are created and can be paid with [Fake.Pay]),
// promotion_detail, client certificates, rate limits other than
// code2session's, unionid, and WeChat's exact wording where it is not
// documented: the return_msg of format errors (such as "invalid
// total_fee") and the err_code of an early closeorder (TRADE_STATE_ERROR)
// follow what merchants report, not a published table. It keeps one
// merchant and everything in memory.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_1
package wxpaytest
