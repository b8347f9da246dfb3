package wxpay

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// MaxBillLine is the longest line [BillReader] accepts, in bytes. A trade
// bill line is a few hundred bytes (the goods name is at most 128 and the
// attach 127); a longer one is a broken or hostile file.
const MaxBillLine = 64 << 10

// MaxBadBillRows bounds the malformed data rows [BillReader] skips past
// in one bill. A goods name or attach holding the field separator ",`"
// (which [Client.UnifiedOrder] refuses, but other clients may have sent)
// breaks its own row only; a file with more broken rows than this is not
// a bill, and reading it ends with a sticky [ErrBillFormat].
const MaxBadBillRows = 100

// ErrBillRow is the cause (BillError.Err) of one malformed data row: the
// wrong number of fields, or a fragment of a row a line break split.
// Unlike the other bill errors it is not sticky: the row is skipped and
// [BillReader.Next] goes on with the next one, up to [MaxBadBillRows].
// It also matches [ErrBillFormat] under errors.Is.
var ErrBillRow error = &billRowError{}

type billRowError struct{}

func (*billRowError) Error() string { return "wxpay: malformed bill row" }

// Is makes errors.Is(ErrBillRow, ErrBillFormat) true.
func (*billRowError) Is(target error) bool { return target == ErrBillFormat }

// BillError reports a bill that does not have WeChat's shape: Line is the
// 1-based line, Column the column's name when known. Err is
// [ErrBillFormat], [ErrBillRow] for one malformed data row (skip it and
// read on), [ErrAmount] for a malformed amount, or io.ErrUnexpectedEOF
// for a bill cut short before its summary.
type BillError struct {
	Line   int    // 1-based line of the bill
	Column string // the column's name; "" when the fault is not in one column
	Err    error  // ErrBillFormat, ErrBillRow, ErrAmount or io.ErrUnexpectedEOF
	reason string
}

// Error names the line, the column and what is wrong; never the value,
// which may be personal data.
func (e *BillError) Error() string { return "wxpay: " + e.Text() }

// Text is Error without the package prefix (see [wire.Text]).
func (e *BillError) Text() string {
	var b strings.Builder
	b.WriteString("bill line ")
	b.WriteString(strconv.Itoa(e.Line))
	if e.Column != "" {
		b.WriteString(", column ")
		b.WriteString(wire.OneLine(e.Column))
	}
	b.WriteString(": ")
	if e.reason != "" {
		b.WriteString(e.reason)
	} else {
		b.WriteString(wire.Text(e.Err))
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *BillError) Unwrap() error { return e.Err }

// BillReader reads a bill from [Client.DownloadBill] or
// [Client.DownloadFundFlow] one row at a time, in constant memory
// whatever the bill's size. The layout is WeChat's: a header row of
// column names (Chinese, comma-separated), data rows whose every field is
// prefixed with a backtick (`) so that spreadsheets keep numbers as text,
// then a summary header and one summary row in the same style.
//
//	br, err := wxpay.NewBillReader(f)
//	for {
//		row, err := br.Next()
//		if err == io.EOF {
//			break // br.Summary() is now set
//		}
//		if errors.Is(err, wxpay.ErrBillRow) {
//			log.Print(err) // one broken row: reconcile it by hand, read on
//			continue
//		}
//		...
//	}
//
// One malformed data row does not lose the day: [BillReader.Next] reports
// it ([ErrBillRow], with its line) and goes on, up to [MaxBadBillRows].
// The summary still counts such a row, so a whole bill has
// [BillReader.Rows] + [BillReader.BadRows] trades, and its amount totals
// differ from the good rows' sums by the skipped rows' amounts.
//
// Values are read by column name ([BillRow.Get], [BillRow.Fen]) or into
// the typed views [BillRow.Trade] and [BillRow.FundFlow]; amounts, which
// the bill writes in yuan ("100.00"), become fen without floating point.
// A bill that ends before its summary row is an error
// (io.ErrUnexpectedEOF), so a truncated download is never taken whole.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_6
type BillReader struct {
	br      *bufio.Reader
	line    int
	cols    *billCols
	rows    int
	sumCols *billCols
	summary *BillRow
	badRows int   // malformed data rows skipped
	err     error // sticky
}

// billCols is a header: names and their positions, shared by every row.
type billCols struct {
	names []string
	index map[string]int
}

func newBillCols(names []string) *billCols {
	c := &billCols{names: names, index: make(map[string]int, len(names))}
	for i, n := range names {
		if _, dup := c.index[n]; !dup {
			c.index[n] = i
		}
	}
	return c
}

// NewBillReader reads the header row of the bill in r and returns a
// reader positioned at the first data row. It reads trade bills
// ([Client.DownloadBill]) and fund-flow bills ([Client.DownloadFundFlow])
// alike: the header names the columns, and [BillRow.Trade] or
// [BillRow.FundFlow] reads a row by those names.
//
// WeChat Pay docs (downloadbill): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_6
// WeChat Pay docs (downloadfundflow): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_18
func NewBillReader(r io.Reader) (*BillReader, error) {
	b := &BillReader{br: bufio.NewReaderSize(r, 4096)}
	line, err := b.readLine()
	if err == io.EOF {
		return nil, &BillError{Line: 1, Err: io.ErrUnexpectedEOF, reason: "empty bill"}
	}
	if err != nil {
		return nil, err
	}
	line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
	names, err := b.header(line)
	if err != nil {
		return nil, err
	}
	b.cols = newBillCols(names)
	return b, nil
}

// Columns returns the names of the data columns, in order.
func (b *BillReader) Columns() []string { return b.cols.names }

// Rows returns how many data rows have been read, the malformed ones
// ([ErrBillRow]) not included.
func (b *BillReader) Rows() int { return b.rows }

// BadRows returns how many malformed data rows ([ErrBillRow]) have been
// skipped.
func (b *BillReader) BadRows() int { return b.badRows }

// Summary returns the summary row once [BillReader.Next] has returned
// io.EOF, and nil before.
func (b *BillReader) Summary() *BillRow { return b.summary }

// Next returns the next data row. After the last one it reads the summary
// and returns io.EOF; a bill without a summary yields a [*BillError]
// wrapping io.ErrUnexpectedEOF instead.
//
// A malformed data row yields a [*BillError] wrapping [ErrBillRow]: call
// Next again to read on. Every other error is sticky, and so is the
// error after more than [MaxBadBillRows] malformed rows.
func (b *BillReader) Next() (*BillRow, error) {
	if b.err != nil {
		return nil, b.err
	}
	row, err := b.next()
	if err == nil {
		return row, nil
	}
	if errors.Is(err, ErrBillRow) {
		b.badRows++
		if b.badRows <= MaxBadBillRows {
			return nil, err
		}
		err = b.bad("", "more than MaxBadBillRows malformed rows: not a bill")
	}
	b.err = err
	return nil, err
}

func (b *BillReader) next() (*BillRow, error) {
	for {
		line, err := b.readLine()
		if err == io.EOF {
			if b.summary == nil {
				return nil, &BillError{Line: b.line, Err: io.ErrUnexpectedEOF, reason: "bill ends before its summary row"}
			}
			return nil, io.EOF
		}
		if err != nil {
			return nil, err
		}
		switch {
		case len(line) == 0:
			continue // blank lines separate the summary in some bills
		case b.summary != nil:
			return nil, b.bad("", "content after the summary row")
		case line[0] != '`':
			if b.sumCols != nil {
				return nil, b.bad("", "a second summary header")
			}
			if bytes.IndexByte(line, '`') >= 0 {
				// Not a header, whose names hold no backtick: the rest of
				// a data row that a line break inside a value split.
				return nil, b.badRow("a fragment of a row split by a line break")
			}
			names, err := b.header(line)
			if err != nil {
				return nil, err
			}
			b.sumCols = newBillCols(names)
		case b.sumCols != nil:
			row, err := b.row(b.sumCols, line)
			if err != nil {
				return nil, err
			}
			b.summary = row
		default:
			row, err := b.row(b.cols, line)
			if err != nil {
				// One row's fault (a value holding ",`"); the bill's
				// structure is intact.
				var be *BillError
				errors.As(err, &be)
				return nil, b.badRow(be.reason)
			}
			b.rows++
			return row, nil
		}
	}
}

// readLine returns the next line without its line ending; the slice is
// valid until the next call. A line longer than MaxBillLine is an error.
func (b *BillReader) readLine() ([]byte, error) {
	var long []byte
	for {
		chunk, err := b.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if len(long)+len(chunk) > MaxBillLine {
				b.line++
				return nil, b.bad("", "line longer than MaxBillLine")
			}
			long = append(long, chunk...)
			continue
		}
		if long != nil {
			long = append(long, chunk...)
			chunk = long
		}
		if len(chunk) > MaxBillLine+2 {
			b.line++
			return nil, b.bad("", "line longer than MaxBillLine")
		}
		if err == io.EOF && len(chunk) == 0 {
			return nil, io.EOF
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		b.line++
		chunk = bytes.TrimSuffix(chunk, []byte("\n"))
		chunk = bytes.TrimSuffix(chunk, []byte("\r"))
		return chunk, nil
	}
}

func (b *BillReader) bad(col, reason string) error {
	return &BillError{Line: b.line, Column: col, Err: ErrBillFormat, reason: reason}
}

// badRow reports one malformed data row, which Next skips past.
func (b *BillReader) badRow(reason string) error {
	return &BillError{Line: b.line, Err: ErrBillRow, reason: reason}
}

// header splits a header row: plain comma-separated names, none empty.
func (b *BillReader) header(line []byte) ([]string, error) {
	if len(line) == 0 || line[0] == '`' {
		return nil, b.bad("", "expected a header row of column names")
	}
	names := strings.Split(string(line), ",")
	for i, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || strings.ContainsRune(n, '`') {
			return nil, b.bad("", "header has an empty or backtick-quoted column name")
		}
		names[i] = n
	}
	return names, nil
}

// row splits a data or summary row: every field starts with a backtick
// and fields are separated by ",`", so a comma inside a value (a goods
// name) stays in the value.
func (b *BillReader) row(cols *billCols, line []byte) (*BillRow, error) {
	s := string(line[1:])
	vals := make([]string, 0, len(cols.names))
	for len(vals) < len(cols.names)-1 {
		i := strings.Index(s, ",`")
		if i < 0 {
			break
		}
		vals = append(vals, s[:i])
		s = s[i+2:]
	}
	vals = append(vals, s)
	if len(vals) != len(cols.names) {
		return nil, b.bad("", "row has "+strconv.Itoa(len(vals))+" fields, the header "+strconv.Itoa(len(cols.names)))
	}
	if strings.Contains(s, ",`") {
		return nil, b.bad("", "row has more fields than the header")
	}
	return &BillRow{Line: b.line, cols: cols, vals: vals}, nil
}

// BillRow is one data or summary row of a bill.
//
// WeChat Pay docs (downloadbill): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_6
// WeChat Pay docs (downloadfundflow): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_18
type BillRow struct {
	// Line is the row's 1-based line in the bill.
	Line int
	cols *billCols
	vals []string
}

// Values returns the row's values in column order, backticks removed.
func (r *BillRow) Values() []string { return r.vals }

// Get returns the value in column col, and whether the bill has that
// column.
func (r *BillRow) Get(col string) (string, bool) {
	i, ok := r.cols.index[col]
	if !ok {
		return "", false
	}
	return r.vals[i], true
}

// Fen returns the amount in column col, written in yuan, as fen: "0.01"
// is 1, "100.00" is 10000, "-3.5" is -350. It fails with a [*BillError]
// wrapping [ErrAmount] for anything else: more than two decimals, a sign
// other than a leading '-', leading zeros, exponents, spaces, an empty
// value or a missing column.
func (r *BillRow) Fen(col string) (int64, error) {
	v, ok := r.Get(col)
	if !ok {
		return 0, &BillError{Line: r.Line, Column: col, Err: ErrBillFormat, reason: "no such column"}
	}
	n, err := parseYuan(v)
	if err != nil {
		return 0, &BillError{Line: r.Line, Column: col, Err: ErrAmount}
	}
	return n, nil
}

// optFen is Fen for a column a bill may lack: absent is 0.
func (r *BillRow) optFen(col string) (int64, error) {
	if _, ok := r.cols.index[col]; !ok {
		return 0, nil
	}
	return r.Fen(col)
}

// parseYuan reads a yuan amount into fen with integer arithmetic only.
func parseYuan(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	intPart, frac, dot := strings.Cut(s, ".")
	switch {
	case intPart == "" || len(intPart) > 15 || !digits(intPart):
		return 0, ErrAmount
	case len(intPart) > 1 && intPart[0] == '0':
		return 0, ErrAmount
	case dot && (frac == "" || len(frac) > 2 || !digits(frac)):
		return 0, ErrAmount
	}
	var n int64
	for i := 0; i < len(intPart); i++ {
		n = n*10 + int64(intPart[i]-'0')
	}
	n *= 100
	switch len(frac) {
	case 1:
		n += int64(frac[0]-'0') * 10
	case 2:
		n += int64(frac[0]-'0')*10 + int64(frac[1]-'0')
	}
	if neg {
		n = -n
	}
	return n, nil
}

// billTimeLayout is how bills write times, in UTC+8.
const billTimeLayout = "2006-01-02 15:04:05"

// Time returns the time in column col (yyyy-MM-dd HH:mm:ss, UTC+8).
func (r *BillRow) Time(col string) (time.Time, error) {
	v, ok := r.Get(col)
	if !ok {
		return time.Time{}, &BillError{Line: r.Line, Column: col, Err: ErrBillFormat, reason: "no such column"}
	}
	t, err := time.ParseInLocation(billTimeLayout, v, beijing)
	if err != nil || len(v) != len(billTimeLayout) {
		return time.Time{}, &BillError{Line: r.Line, Column: col, Err: ErrBillFormat, reason: "time must be yyyy-MM-dd HH:mm:ss"}
	}
	return t, nil
}

// TradeBillRow is a row of a trade bill, by the column names of WeChat's
// current layout. A column the bill lacks (a SUCCESS bill has no refund
// columns) leaves its field zero; a column that is present must parse.
// Amounts are in fen.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_6
type TradeBillRow struct {
	TradeTime          time.Time    // 交易时间
	AppID              string       // 公众账号ID
	MchID              string       // 商户号
	SubMchID           string       // 特约商户号
	DeviceInfo         string       // 设备号
	TransactionID      string       // 微信订单号
	OutTradeNo         string       // 商户订单号
	OpenID             string       // 用户标识
	TradeType          TradeType    // 交易类型
	TradeState         TradeState   // 交易状态: SUCCESS, REFUND, ...
	BankType           string       // 付款银行
	FeeType            FeeType      // 货币种类
	SettlementTotalFee int64        // 应结订单金额
	CouponFee          int64        // 代金券金额
	RefundID           string       // 微信退款单号
	OutRefundNo        string       // 商户退款单号
	RefundFee          int64        // 退款金额
	CouponRefundFee    int64        // 充值券退款金额
	RefundType         string       // 退款类型
	RefundStatus       RefundStatus // 退款状态
	Body               string       // 商品名称
	Attach             string       // 商户数据包
	ServiceFee         int64        // 手续费
	Rate               string       // 费率, such as "0.60%"
	TotalFee           int64        // 订单金额
	RequestedRefundFee int64        // 申请退款金额
	RateRemark         string       // 费率备注
}

// Trade reads the row as a trade bill row.
func (r *BillRow) Trade() (TradeBillRow, error) {
	get := func(col string) string { v, _ := r.Get(col); return v }
	t := TradeBillRow{
		AppID: get("公众账号ID"), MchID: get("商户号"), SubMchID: get("特约商户号"),
		DeviceInfo: get("设备号"), TransactionID: get("微信订单号"), OutTradeNo: get("商户订单号"),
		OpenID: get("用户标识"), TradeType: TradeType(get("交易类型")), TradeState: TradeState(get("交易状态")),
		BankType: get("付款银行"), FeeType: FeeType(get("货币种类")), RefundID: get("微信退款单号"),
		OutRefundNo: get("商户退款单号"), RefundType: get("退款类型"), RefundStatus: RefundStatus(get("退款状态")),
		Body: get("商品名称"), Attach: get("商户数据包"), Rate: get("费率"), RateRemark: get("费率备注"),
	}
	var err error
	if t.TradeTime, err = r.Time("交易时间"); err != nil {
		return TradeBillRow{}, err
	}
	for _, f := range [...]struct {
		dst *int64
		col string
	}{
		{&t.SettlementTotalFee, "应结订单金额"}, {&t.CouponFee, "代金券金额"}, {&t.RefundFee, "退款金额"},
		{&t.CouponRefundFee, "充值券退款金额"}, {&t.ServiceFee, "手续费"}, {&t.TotalFee, "订单金额"},
		{&t.RequestedRefundFee, "申请退款金额"},
	} {
		if *f.dst, err = r.optFen(f.col); err != nil {
			return TradeBillRow{}, err
		}
	}
	return t, nil
}

// TradeBillSummary is the summary row of a trade bill, WeChat's totals
// for the day: check them against the rows before reconciling. Amounts
// are in fen; a column the bill lacks is 0.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_6
type TradeBillSummary struct {
	Trades             int64 // 总交易单数
	SettlementTotalFee int64 // 应结订单总金额
	RefundFee          int64 // 退款总金额
	CouponRefundFee    int64 // 充值券退款总金额
	ServiceFee         int64 // 手续费总金额
	TotalFee           int64 // 订单总金额
	RequestedRefundFee int64 // 申请退款总金额
	_                  struct{}
}

// TradeSummary reads the row as a trade bill's summary. Compare Trades
// with [BillReader.Rows] to check the bill is whole.
func (r *BillRow) TradeSummary() (TradeBillSummary, error) {
	var s TradeBillSummary
	var err error
	if s.Trades, err = r.count("总交易单数"); err != nil {
		return s, err
	}
	for _, f := range [...]struct {
		dst *int64
		col string
	}{
		{&s.SettlementTotalFee, "应结订单总金额"}, {&s.RefundFee, "退款总金额"}, {&s.CouponRefundFee, "充值券退款总金额"},
		{&s.ServiceFee, "手续费总金额"}, {&s.TotalFee, "订单总金额"}, {&s.RequestedRefundFee, "申请退款总金额"},
	} {
		if *f.dst, err = r.optFen(f.col); err != nil {
			return TradeBillSummary{}, err
		}
	}
	return s, nil
}

// count reads a non-negative integer column.
func (r *BillRow) count(col string) (int64, error) {
	v, ok := r.Get(col)
	if !ok {
		return 0, &BillError{Line: r.Line, Column: col, Err: ErrBillFormat, reason: "no such column"}
	}
	n, err := parseFen(v)
	if err != nil {
		return 0, &BillError{Line: r.Line, Column: col, Err: ErrBillFormat, reason: "count must be a non-negative integer"}
	}
	return n, nil
}

// FundFlowRow is a row of a fund-flow bill, by WeChat's column names:
// one movement of money in or out of the account. Amounts are in fen.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_18
type FundFlowRow struct {
	Time             time.Time // 记账时间
	BizTransactionID string    // 微信支付业务单号
	FlowID           string    // 资金流水单号
	BizName          string    // 业务名称, such as 退款
	BizType          string    // 业务类型
	FlowType         string    // 收支类型: 收入 (income) or 支出 (expense)
	Amount           int64     // 收支金额(元)
	Balance          int64     // 账户结余(元)
	Applicant        string    // 资金变更提交申请人
	Remark           string    // 备注
	VoucherNo        string    // 业务凭证号
}

// FundFlow reads the row as a fund-flow bill row.
func (r *BillRow) FundFlow() (FundFlowRow, error) {
	get := func(col string) string { v, _ := r.Get(col); return v }
	f := FundFlowRow{
		BizTransactionID: get("微信支付业务单号"), FlowID: get("资金流水单号"), BizName: get("业务名称"),
		BizType: get("业务类型"), FlowType: get("收支类型"), Applicant: get("资金变更提交申请人"),
		Remark: get("备注"), VoucherNo: get("业务凭证号"),
	}
	var err error
	if f.Time, err = r.Time("记账时间"); err != nil {
		return FundFlowRow{}, err
	}
	if f.Amount, err = r.Fen("收支金额(元)"); err != nil {
		return FundFlowRow{}, err
	}
	if f.Balance, err = r.optFen("账户结余(元)"); err != nil {
		return FundFlowRow{}, err
	}
	return f, nil
}

// FundFlowSummary is the summary row of a fund-flow bill, WeChat's totals
// for the day; amounts in fen.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_18
type FundFlowSummary struct {
	Flows        int64 // 资金流水总笔数
	IncomeCount  int64 // 收入笔数
	Income       int64 // 收入金额
	ExpenseCount int64 // 支出笔数
	Expense      int64 // 支出金额
}

// FundFlowSummary reads the row as a fund-flow bill's summary.
func (r *BillRow) FundFlowSummary() (FundFlowSummary, error) {
	var s FundFlowSummary
	var err error
	for _, f := range [...]struct {
		dst   *int64
		col   string
		count bool
	}{
		{&s.Flows, "资金流水总笔数", true}, {&s.IncomeCount, "收入笔数", true}, {&s.Income, "收入金额", false},
		{&s.ExpenseCount, "支出笔数", true}, {&s.Expense, "支出金额", false},
	} {
		if f.count {
			*f.dst, err = r.count(f.col)
		} else {
			*f.dst, err = r.Fen(f.col)
		}
		if err != nil {
			return FundFlowSummary{}, err
		}
	}
	return s, nil
}
