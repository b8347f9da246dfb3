// Package wxpaytest is a fake WeChat Pay (API v2 and API v3) and
// mini-program login server for tests, demos and scripts: what
// [net/http/httptest] is to HTTP, it is to WeChat Pay. It never calls
// WeChat, needs no merchant account, and imports only the standard
// library, wxpay and wxpay/apiv3 (not "testing", so `go run` programs use
// it too).
//
// [NewServer] (or [NewTLSServer]) starts one on loopback; connect a
// wxpay.Client to it with one option, [Server.ClientOption], and give its
// URL to miniprogram.WithBaseURL. A [Fake] is also an [http.Handler] that
// a program can mount under a prefix of its own server.
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
//   - An order state machine: NOTPAY, then SUCCESS (paid) or CLOSED, a
//     paid order REFUND once refunded; micropay orders also USERPAYING,
//     PAYERROR and REVOKED.
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
//   - Refunds (/secapi/pay/refund) with WeChat's rules: only a paid
//     order, total_fee its amount (else REFUND_FEE_MISMATCH), refunds
//     bounded by what is left (INVALID_REQUEST "refund_fee大于可退金额";
//     ERROR "订单已全额退款" once all is refunded; return_code FAIL
//     "invalid refund_fee" above total_fee), at most [MaxRefunds] per
//     order, and out_refund_no the idempotency key (a repeat with the same
//     amounts answers the same refund_id and refunds nothing more; other
//     amounts get REFUND_FEE_MISMATCH). Coupons are refunded in
//     proportion. Orders then read REFUND in orderquery. A refund is
//     PROCESSING for Config.RefundDelay (or succeeds at once with
//     Config.RefundImmediately, or as [Fake.SettleRefund] says, also
//     REFUNDCLOSE and CHANGE), then its refund notification goes to the
//     request's notify_url or Config.RefundNotifyURL: unsigned, req_info
//     encrypted as WeChat does (AES-256-ECB under the MD5 of the API
//     key, checked against published vectors), on [NotifySchedule]
//     until acknowledged ([Fake.RefundDeliveries], [Fake.WaitRefundAcked]).
//   - refundquery by refund_id, out_refund_no, transaction_id or
//     out_trade_no (in that priority), with refund_*_$n and
//     coupon_refund_*_$n_$m fields, ten refunds a page, offset and
//     total_refund_count; REFUNDNOTEXIST, PARAM_ERROR.
//   - downloadbill (ALL, SUCCESS, REFUND; tar_type GZIP) and
//     downloadfundflow (the basic account): the day's (UTC+8) trades of
//     the fake's orders in WeChat's text table (Chinese header,
//     backtick-prefixed fields, CRLF, summary header and row), amounts in
//     yuan, a 0.6% fee ([FeeRate]); "No Bill Exist" when there are none.
//     The fund-flow bill refuses a request not signed with HMAC-SHA256,
//     whatever the merchant's algorithm, as WeChat does.
//   - micropay with payment codes ([Fake.PaymentCode]): paid at once, or
//     USERPAYING until the payer confirms (orderquery then reads SUCCESS)
//     or declines (PAYERROR); AUTH_CODE_INVALID for a malformed or used
//     code; a repeat of the same order answers its outcome. reverse
//     (REVOKED, recall=Y with [Fault.Recall], REVERSE_EXPIRE after
//     [ReverseLife]).
//   - Client certificates: [NewTLSServer] asks for one, and the
//     certificate endpoints (refund, reverse, downloadfundflow) refuse a
//     request without the merchant's certificate ([Fake.ClientCertificate])
//     as WeChat's gateway does (see [NewTLSServer]).
//   - The sandbox, with Config.Sandbox: getsignkey (MD5 under the API
//     key) hands out [Fake.SandboxKey], and the /sandboxnew and
//     /xdc/apiv2sandbox paths take requests signed with it, MD5 only.
//   - Mini-program login: login codes ([Fake.LoginCode], or POST
//     /wxpaytest/login) accepted once within [CodeLife] by jscode2session
//     (40029, 40163, 45011 as WeChat gives them), token and stable_token,
//     getuserphonenumber with phone codes ([Fake.PhoneCode], or POST
//     /wxpaytest/phonecode with {"openid", "phone"}), and
//     wx.getUserInfo's encryptedData and iv ([Fake.UserInfo]).
//   - Faults ([Fake.Inject]) on every endpoint: err_codes (SYSTEMERROR,
//     BIZERR_NEED_RETRY, ..., with or without the request taking effect:
//     [Fault.Processed]), return_code FAIL, mini-program errcodes, HTML
//     error pages, delays, dropped connections and answers signed with
//     the wrong key; notifications duplicated, concurrent,
//     tampered or never sent ([PayOptions], [Fake.DropNotifications]).
//   - Restarts: a new fake learns back the orders and refunds an earlier
//     one held ([Fake.RestoreOrder], [Fake.RestoreRefund]), from the
//     records of a program that keeps its own.
//
// Every duration (the retry schedule, code and token lives, the 5-minute
// closeorder rule, the 2-hour prepay_id, refund settlement, micropay
// confirmation) runs on the fake's clock, which
// Config.Speed speeds up and Config.Now replaces.
//
// # API v3
//
// Config.APIv3Key turns API v3 on, beside v2, on the same URL and for the
// same merchant; without it the /v3/ paths are 404, saying so. Connect an
// apiv3 client with c, err := apiv3.NewClient(s.APIv3Config(),
// s.APIv3Options()...). The merchant's API certificate is
// Config.MerchantSerialNo and Config.MerchantPublicKey, or a key pair the
// fake mints ([Fake.V3MerchantKey]); WeChat Pay's key is
// Config.WeChatPayKey or minted, and is shown to clients as the WeChat Pay
// public key ([Fake.V3PublicKeyID], [Fake.V3PublicKeyPEM]) and as the
// first platform certificate ([Fake.V3PlatformCertificates],
// [Fake.RotateV3Certificate] adds a new one). Config.V3Signer picks what
// signs answers and notifications ([V3Signer]: public key, certificate,
// or both during a migration).
//
//   - Every v3 request is checked as WeChat does, by one pipeline: the
//     method (405), a body of at most 64 KiB (413), User-Agent and Accept
//     (400 INVALID_REQUEST "Http头缺少Accept或User-Agent"), Content-Type
//     application/json, then the Authorization header: scheme
//     WECHATPAY2-SHA256-RSA2048, the five items, the merchant's mchid and
//     certificate serial, a timestamp within five minutes of the fake's
//     clock, and the signature over METHOD, the request-target as sent,
//     timestamp, nonce and the exact body (401 SIGN_ERROR, with
//     detail.sign_information as WeChat shows it, unsigned as WeChat
//     signs nothing it could not verify). Bodies are then read strictly:
//     no unknown field ("请求中含有未在API文档中定义的参数"), no key twice, no
//     null, no 4-byte UTF-8, each field of its type, required fields and
//     amounts (400 PARAM_ERROR, detail.field a JSON pointer). Path
//     parameters are segments of the request-target as signed, so an
//     escaped slash stays in its id (a malformed one) rather than
//     routing elsewhere. A request replayed inside the window is served
//     again, idempotent by its business key.
//   - Answers are v3's shapes with WeChat's statuses: 200 JSON, 204 for
//     close, errors as {"code","message","detail"} (PARAM_ERROR and
//     INVALID_REQUEST 400, SIGN_ERROR 401, ORDERPAID and NOT_ENOUGH 403,
//     ORDER_NOT_EXIST and RESOURCE_NOT_EXISTS 404, FREQUENCY_LIMITED 429,
//     SYSTEM_ERROR 500), each with a Request-ID ending in WeChat's numeric
//     code, and every answer to a verified request, error answers and
//     204 included, signed with the Wechatpay-Timestamp, -Nonce,
//     -Signature, -Serial and -Signature-Type headers.
//   - Prepay (JSAPI, App, H5, Native: prepay_id, h5_url, code_url), query
//     by out_trade_no and by transaction_id (?mchid= required), close,
//     /v3/certificates (each certificate sealed with AES-256-GCM under
//     the APIv3 key). One order book serves both generations: an order
//     placed through unifiedorder reads on v3 and the reverse; re-entry
//     with the same request gives the same prepay_id, another request
//     (or a v2 order's number) WeChat's INVALID_REQUEST
//     "请求重入时，参数与首次请求时不一致" (OUT_TRADE_NO_USED with
//     Config.DuplicateOrderCode).
//   - Paying a v3 order ([Fake.Pay], or /wxpaytest/pay with the RSA
//     paySign over appId, timeStamp, nonceStr and package, checked with
//     the merchant's public key) sends a TRANSACTION.SUCCESS notification:
//     the Transaction sealed under the APIv3 key (associated_data
//     "transaction", a random nonce), signed anew at each attempt,
//     retried on [NotifySchedule] until the reply is HTTP 200 or 204
//     ([Delivery.Header] keeps what was sent).
//   - Refunds by transaction_id or out_trade_no over the refunds v2 also
//     keeps (the order's refundable amount is shared: a refund over what
//     is left is NOT_ENOUGH on v3, INVALID_REQUEST on v2), idempotent by
//     out_refund_no, PROCESSING then SUCCESS as on v2 ([Fake.SettleRefund]
//     too: CLOSED, ABNORMAL), their query, apply-abnormal-refund (its
//     RSA-OAEP fields opened with the key Wechatpay-Serial names), and
//     REFUND.SUCCESS, REFUND.CLOSED and REFUND.ABNORMAL notifications
//     (associated_data "refund").
//   - Trade and fund-flow bills: hash_type SHA1 and hash_value of the
//     decompressed file, a download_url on the fake itself valid for
//     [BillURLLife], served (gzip with tar_type GZIP) to a signed request,
//     unsigned as WeChat serves it.
//   - Faults: [Fault.ErrCode] answers WeChat's error object (signed, or
//     not with [Fault.Unsigned]), [Fault.WrongKey], [Fault.V3Probe],
//     [Fault.V3UnknownSerial] and [Fault.V3StaleTimestamp] bend the
//     signature, Drop and HTML as on v2; notifications take the same
//     through [PayOptions.V3Fault] and [Fake.V3RefundNotifyFault], and
//     [Fault.V3TamperCiphertext].
//
// # What it does not reproduce
//
// On v3: partner mode, v3 code pay, the security echo, media upload,
// payer.identity (实名支付), SM2, the refund's goods_detail and from[] as
// more than checked fields, a merchant given the public key only being
// refused /v3/certificates (inject it), nonce replay, and WeChat's
// wording where its pages give none (the Content-Type, Accept, method,
// size and bill refusals, and the codes of refunds of unpaid orders or
// of other amounts, are the fake's own). v3's close does not wait five
// minutes: its pages only advise it.
//
// Service provider (sub_mch_id) mode, APP and Native payment by a real
// device (orders of those types are created and can be paid with
// [Fake.Pay]), promotion_detail, single-product refunds (detail),
// recharge (pre-funded) coupons and RECHARGE_REFUND bills, the
// operation and fees accounts' fund flows, the bills' Digest header,
// reversed trades in bills, bills before they are "ready" (the fake
// serves a day's bill at once, never "Bill Creating"), the sandbox's
// fixed test cases, the one-minute gap WeChat wants between refunds of
// an order, rate limits other than code2session's, unionid, and WeChat's
// exact wording where it is not documented. These follow what merchants
// report, not a published table: the return_msg of format errors (such
// as "invalid total_fee", "invalid refund_fee"), the err_code of an early
// closeorder (TRADE_STATE_ERROR), the refund refusals above, the
// gateway's 400 pages for a missing or unknown certificate and
// "certificate not match" for another merchant's. These are the fake's
// own, for want of any report: the fund-flow bill's refusal of a request
// not signed with HMAC-SHA256, the refusal of a 51st refund, of an
// out_refund_no already used on another order, of reversing a refunded
// order (TRADE_ERROR), of a used payment code (AUTH_CODE_INVALID), and
// the err_code_des of REFUNDNOTEXIST, TRADE_OVERDUE, ORDERREVERSED,
// REVERSE_EXPIRE and PAYERROR, and the 404 (return_code FAIL on a v2
// path) that answers a path it does not serve. Over plain HTTP
// ([NewServer]) the certificate endpoints cannot see a certificate and do
// not ask for one. It keeps one merchant and everything in memory.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_1
package wxpaytest
