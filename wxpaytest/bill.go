package wxpaytest

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay"
)

// billRoutes are the bill endpoints.
var billRoutes = []route{
	{path: EndpointDownloadBill, proto: protoV2, sandbox: true, signMsg: "SIGN ERROR", v2: (*Fake).downloadBill},
	{path: EndpointDownloadFundFlow, proto: protoV2, sandbox: true, cert: true, sign: wxpay.SignHMACSHA256, v2: (*Fake).downloadFundFlow},
}

// Column names of WeChat's trade bills, by bill_type, and of their
// summary.
var (
	billColsAll = []string{"交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识",
		"交易类型", "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额", "微信退款单号", "商户退款单号", "退款金额",
		"充值券退款金额", "退款类型", "退款状态", "商品名称", "商户数据包", "手续费", "费率", "订单金额", "申请退款金额", "费率备注"}
	billColsSuccess = []string{"交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识",
		"交易类型", "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额", "商品名称", "商户数据包", "手续费", "费率",
		"订单金额", "费率备注"}
	billColsRefund = []string{"交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识",
		"交易类型", "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额", "退款申请时间", "退款成功时间", "微信退款单号",
		"商户退款单号", "退款金额", "充值券退款金额", "退款类型", "退款状态", "商品名称", "商户数据包", "手续费", "费率", "订单金额",
		"申请退款金额", "费率备注"}
	billSummaryCols = []string{"总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额", "手续费总金额", "订单总金额", "申请退款总金额"}

	fundFlowCols = []string{"记账时间", "微信支付业务单号", "资金流水单号", "业务名称", "业务类型", "收支类型", "收支金额(元)",
		"账户结余(元)", "资金变更提交申请人", "备注", "业务凭证号"}
	fundFlowSummaryCols = []string{"资金流水总笔数", "收入笔数", "收入金额", "支出笔数", "支出金额"}
)

// Bill endpoints: POST, XML requests, answered with a bill (text, or
// gzip) rather than XML unless refused.
const (
	// EndpointDownloadBill is the day's trade bill:
	// https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_6
	EndpointDownloadBill Endpoint = "/pay/downloadbill"
	// EndpointDownloadFundFlow is the day's fund flow; it needs the
	// client certificate and HMAC-SHA256:
	// https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_18
	EndpointDownloadFundFlow Endpoint = "/pay/downloadfundflow"
)

// FeeRate is the service fee the fake's bills charge on payments: 0.6%,
// WeChat's usual rate, rounded half up to the fen.
const FeeRate = "0.60%"

func serviceFee(fen int64) int64 { return (fen*6 + 500) / 1000 }

// yuan writes fen as the bills' yuan amounts: "0.01", "-3.50".
func yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	frac := strconv.FormatInt(fen%100, 10)
	if len(frac) == 1 {
		frac = "0" + frac
	}
	return sign + strconv.FormatInt(fen/100, 10) + "." + frac
}

// msgNoBill is WeChat's answer when a day has no bill; its page prints
// "NO Bill Exist", the service sends it with a lowercase o.
const msgNoBill = "No Bill Exist"

// billRow is one line of a bill, by column name, with the time that
// orders it.
type billRow struct {
	at   time.Time
	vals map[string]string
}

// table writes a bill: header, backtick-prefixed rows, summary header
// and summary row, CRLF-terminated as WeChat's files are.
func table(cols []string, rows []billRow, sumCols []string, sum map[string]string) []byte {
	var b bytes.Buffer
	b.WriteString(strings.Join(cols, ","))
	b.WriteString("\r\n")
	line := func(cols []string, vals map[string]string) {
		for i, c := range cols {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('`')
			b.WriteString(vals[c])
		}
		b.WriteString("\r\n")
	}
	for _, r := range rows {
		line(cols, r.vals)
	}
	b.WriteString(strings.Join(sumCols, ","))
	b.WriteString("\r\n")
	line(sumCols, sum)
	return b.Bytes()
}

// gzipped reads tar_type: "" is plain text, GZIP compressed; anything
// else is malformed (ok false).
func gzipped(tarType string) (gz, ok bool) {
	switch tarType {
	case "":
		return false, true
	case "GZIP":
		return true, true
	}
	return false, false
}

// lockLedger takes what a bill reads: the orders' lock, then the
// refunds'. Bills keep no state of their own; they are views of both.
func (f *Fake) lockLedger() {
	f.orders.mu.Lock()
	f.refunds.mu.Lock()
}

func (f *Fake) unlockLedger() {
	f.refunds.mu.Unlock()
	f.orders.mu.Unlock()
}

// billDay parses bill_date as a day in UTC+8.
func billDay(s string) (time.Time, bool) {
	if len(s) != 8 {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation("20060102", s, beijing)
	return t, err == nil
}

func sameDay(t, day time.Time) bool {
	return !t.IsZero() && !t.Before(day) && t.Before(day.AddDate(0, 0, 1))
}

// downloadBill answers /pay/downloadbill with the day's trades of the
// fake's orders.
func (f *Fake) downloadBill(p wxpay.Params) answer {
	if p["bill_date"] == "" {
		return protocolFail("missing parameter")
	}
	day, ok := billDay(p["bill_date"])
	if !ok {
		return protocolFail("data format error")
	}
	bt := p["bill_type"]
	var cols []string
	switch bt {
	case "", "ALL":
		bt, cols = "ALL", billColsAll
	case "SUCCESS":
		cols = billColsSuccess
	case "REFUND":
		cols = billColsRefund
	case "RECHARGE_REFUND":
		// The fake has no pre-funded (recharge) coupons, so no such
		// refunds.
		return protocolFail(msgNoBill)
	default:
		return protocolFail("invalid bill_type")
	}
	gz, ok := gzipped(p["tar_type"])
	if !ok {
		return protocolFail("data format error")
	}
	now := f.Now()
	f.lockLedger()
	rows := f.tradeRowsLocked(day, bt, now)
	f.unlockLedger()
	if len(rows) == 0 {
		return protocolFail(msgNoBill)
	}
	// By time, then (orders being kept in a map) by WeChat's numbers, so
	// that a bill reads the same on every download.
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if !a.at.Equal(b.at) {
			return a.at.Before(b.at)
		}
		if x, y := a.vals["微信订单号"], b.vals["微信订单号"]; x != y {
			return x < y
		}
		return a.vals["微信退款单号"] < b.vals["微信退款单号"]
	})
	var settle, refunded, fees, total, asked int64
	for _, r := range rows {
		settle += r.fen("应结订单金额")
		refunded += r.fen("退款金额")
		fees += r.fen("手续费")
		total += r.fen("订单金额")
		asked += r.fen("申请退款金额")
	}
	sum := map[string]string{
		"总交易单数": strconv.Itoa(len(rows)), "应结订单总金额": yuan(settle), "退款总金额": yuan(refunded),
		"充值券退款总金额": yuan(0), "手续费总金额": yuan(fees), "订单总金额": yuan(total), "申请退款总金额": yuan(asked),
	}
	return answer{bill: table(cols, rows, billSummaryCols, sum), gzip: gz}
}

// fen reads back an amount the fake wrote with yuan; absent is 0.
func (r billRow) fen(col string) int64 {
	s := r.vals[col]
	if s == "" {
		return 0
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	n, _ := strconv.ParseInt(strings.Replace(s, ".", "", 1), 10, 64)
	if neg {
		return -n
	}
	return n
}

// tradeRowsLocked lists the day's payments and refunds for bill type bt.
func (f *Fake) tradeRowsLocked(day time.Time, bt string, now time.Time) []billRow {
	var rows []billRow
	for _, o := range f.orders.byNo {
		switch o.state(now) {
		case StateSuccess, StateRefund:
		default:
			continue // never paid, or reversed: the fake lists no such trades
		}
		base := map[string]string{
			"公众账号ID": f.cfg.AppID, "商户号": f.cfg.MchID, "特约商户号": "0", "设备号": o.deviceInfo(),
			"微信订单号": o.TransactionID, "商户订单号": o.OutTradeNo, "用户标识": o.OpenID, "交易类型": string(o.TradeType),
			"付款银行": o.payOpts.bankType(), "货币种类": "CNY", "商品名称": o.body(), "商户数据包": o.Attach,
			"费率": FeeRate, "费率备注": "",
		}
		if bt != "REFUND" && sameDay(o.PaidAt, day) {
			v := cloneMap(base)
			var coupons int64
			for _, c := range o.Coupons {
				coupons += c.Fee
			}
			settle := o.settlementTotal()
			v["交易时间"] = o.PaidAt.In(beijing).Format(refundTime)
			v["交易状态"] = string(StateSuccess)
			v["应结订单金额"] = yuan(settle)
			v["代金券金额"] = yuan(coupons)
			v["手续费"] = yuan(serviceFee(settle))
			v["订单金额"] = yuan(o.TotalFee)
			if bt == "ALL" {
				v["微信退款单号"], v["商户退款单号"] = "0", "0"
				v["退款金额"], v["充值券退款金额"], v["申请退款金额"] = yuan(0), yuan(0), yuan(0)
			}
			rows = append(rows, billRow{at: o.PaidAt, vals: v})
		}
		if bt == "SUCCESS" {
			continue
		}
		for _, rf := range o.refunds {
			f.settleDueLocked(rf, now)
			if !sameDay(rf.CreatedAt, day) {
				continue
			}
			v := cloneMap(base)
			v["交易时间"] = rf.CreatedAt.In(beijing).Format(refundTime)
			if bt == "REFUND" {
				v["交易时间"] = o.PaidAt.In(beijing).Format(refundTime)
				v["退款申请时间"] = rf.CreatedAt.In(beijing).Format(refundTime)
				if !rf.SuccessTime.IsZero() {
					v["退款成功时间"] = rf.SuccessTime.In(beijing).Format(refundTime)
				}
			}
			v["交易状态"] = string(StateRefund)
			v["应结订单金额"], v["代金券金额"], v["订单金额"] = yuan(0), yuan(0), yuan(0)
			v["微信退款单号"], v["商户退款单号"] = rf.RefundID, rf.OutRefundNo
			v["退款金额"] = yuan(rf.SettlementRefundFee)
			v["充值券退款金额"] = yuan(0)
			v["退款类型"] = "ORIGINAL"
			v["退款状态"] = string(rf.Status)
			v["手续费"] = yuan(-serviceFee(rf.SettlementRefundFee))
			v["申请退款金额"] = yuan(rf.RefundFee)
			rows = append(rows, billRow{at: rf.CreatedAt, vals: v})
		}
	}
	return rows
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+16)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// downloadFundFlow answers /pay/downloadfundflow with the basic
// account's flows of the day: each payment's income and service fee,
// each refund's expense.
func (f *Fake) downloadFundFlow(p wxpay.Params) answer {
	noBill := answer{failMsg: msgNoBill, failExtra: wxpay.Params{"error_code": "NO_BILL_EXIST"}}
	paramErr := func(msg string) answer {
		return answer{failMsg: msg, failExtra: wxpay.Params{"error_code": string(codeParamError)}}
	}
	switch {
	case p["bill_date"] == "":
		return paramErr("缺少参数bill_date")
	case p["account_type"] == "":
		return paramErr("缺少参数account_type")
	}
	day, ok := billDay(p["bill_date"])
	if !ok {
		return paramErr("bill_date参数格式错误")
	}
	switch p["account_type"] {
	case "Basic":
	case "Operation", "Fees":
		return noBill // the fake moves money through the basic account only
	default:
		return paramErr("account_type参数格式错误")
	}
	gz, ok := gzipped(p["tar_type"])
	if !ok {
		return paramErr("tar_type参数格式错误")
	}
	now := f.Now()
	f.lockLedger()
	flows := f.flowsLocked(now)
	f.unlockLedger()
	sort.Slice(flows, func(i, j int) bool {
		a, b := flows[i], flows[j]
		if !a.at.Equal(b.at) {
			return a.at.Before(b.at)
		}
		return a.vals["资金流水单号"] < b.vals["资金流水单号"]
	})
	var balance, income, expense int64
	var nIn, nOut int
	var rows []billRow
	for _, fl := range flows {
		balance += fl.amount
		if !sameDay(fl.at, day) {
			continue
		}
		v := fl.vals
		v["账户结余(元)"] = yuan(balance)
		if fl.amount >= 0 {
			v["收支类型"], v["收支金额(元)"] = "收入", yuan(fl.amount)
			income += fl.amount
			nIn++
		} else {
			v["收支类型"], v["收支金额(元)"] = "支出", yuan(-fl.amount)
			expense -= fl.amount
			nOut++
		}
		rows = append(rows, billRow{at: fl.at, vals: v})
	}
	if len(rows) == 0 {
		return noBill
	}
	sum := map[string]string{
		"资金流水总笔数": strconv.Itoa(len(rows)), "收入笔数": strconv.Itoa(nIn), "收入金额": yuan(income),
		"支出笔数": strconv.Itoa(nOut), "支出金额": yuan(expense),
	}
	return answer{bill: table(fundFlowCols, rows, fundFlowSummaryCols, sum), gzip: gz}
}

type flow struct {
	at     time.Time
	amount int64 // signed fen
	vals   map[string]string
}

// flowsLocked lists every movement of the basic account so far.
func (f *Fake) flowsLocked(now time.Time) []flow {
	var out []flow
	mk := func(at time.Time, amount int64, bizID, seq, name string) flow {
		return flow{at: at, amount: amount, vals: map[string]string{
			"记账时间": at.In(beijing).Format(refundTime), "微信支付业务单号": bizID, "资金流水单号": bizID + seq,
			"业务名称": name, "业务类型": name, "资金变更提交申请人": "system", "备注": "缺省", "业务凭证号": bizID,
		}}
	}
	for _, o := range f.orders.byNo {
		switch o.state(now) {
		case StateSuccess, StateRefund:
		default:
			continue
		}
		settle := o.settlementTotal()
		out = append(out, mk(o.PaidAt, settle, o.TransactionID, "01", "交易"))
		if fee := serviceFee(settle); fee > 0 {
			out = append(out, mk(o.PaidAt, -fee, o.TransactionID, "02", "扣除交易手续费"))
		}
		for _, rf := range o.refunds {
			f.settleDueLocked(rf, now)
			if rf.Status == RefundClosed {
				continue
			}
			out = append(out, mk(rf.CreatedAt, -rf.SettlementRefundFee, rf.RefundID, "01", "退款"))
		}
	}
	return out
}

// writeBill sends a bill's text, gzip-compressed when asked.
func writeBill(w http.ResponseWriter, a answer) {
	if !a.gzip {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(a.bill)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	zw := gzip.NewWriter(w)
	_, _ = zw.Write(a.bill)
	_ = zw.Close()
}
