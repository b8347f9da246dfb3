package wxpay

import (
	"encoding/json"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type payVectors struct {
	JSAPI []struct {
		ID, Key, AppID, NonceStr, PrepayID, SignType, TimeStamp, PaySign string
	} `json:"jsapi"`
	App []struct {
		ID, Key, SignType, AppID, PartnerID, PrepayID, NonceStr, Timestamp, Canonical, Sign string
	} `json:"app"`
	BizPayURL []struct {
		ID, Key, SignType, AppID, MchID, ProductID, TimeStamp, NonceStr, URL string
	} `json:"bizpayurl"`
}

func loadPayVectors(t *testing.T) payVectors {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors_pay.json")
	require.NoError(t, err)
	// The file uses the wire names; map them onto the struct fields.
	r := strings.NewReplacer(`"appId"`, `"AppID"`, `"nonceStr"`, `"NonceStr"`, `"prepay_id"`, `"PrepayID"`,
		`"signType"`, `"SignType"`, `"timeStamp"`, `"TimeStamp"`, `"paySign"`, `"PaySign"`, `"appid"`, `"AppID"`,
		`"partnerid"`, `"PartnerID"`, `"prepayid"`, `"PrepayID"`, `"noncestr"`, `"NonceStr"`, `"timestamp"`, `"Timestamp"`,
		`"mch_id"`, `"MchID"`, `"product_id"`, `"ProductID"`, `"time_stamp"`, `"TimeStamp"`, `"nonce_str"`, `"NonceStr"`)
	var v payVectors
	require.NoError(t, json.Unmarshal([]byte(r.Replace(string(b))), &v))
	require.Len(t, v.JSAPI, 3)
	require.Len(t, v.App, 1)
	require.Len(t, v.BizPayURL, 1)
	return v
}

// vectorClient builds a client for one vector's merchant, with the clock
// and randomness pinned to the vector's timestamp and nonce.
func vectorClient(t *testing.T, appID, mchID, key, signType, ts, nonce string) *Client {
	t.Helper()
	unix, err := strconv.ParseInt(ts, 10, 64)
	require.NoError(t, err)
	c, err := NewClient(Config{AppID: appID, MchID: mchID, APIKey: key, SignType: SignType(signType)},
		// A fraction of a second must not leak into the timestamp.
		WithClock(func() time.Time { return time.Unix(unix, 999_999_999) }),
		WithRand(nonceReader(t, nonce)))
	require.NoError(t, err)
	return c
}

func TestJSAPIParamsVectors(t *testing.T) {
	t.Parallel()
	for _, v := range loadPayVectors(t).JSAPI {
		t.Run(v.ID, func(t *testing.T) {
			t.Parallel()
			s, err := NewSigner(v.Key, SignType(v.SignType))
			require.NoError(t, err)
			want := &JSAPIParams{
				AppID:     v.AppID,
				TimeStamp: v.TimeStamp,
				NonceStr:  v.NonceStr,
				Package:   "prepay_id=" + v.PrepayID,
				SignType:  SignType(v.SignType),
				PaySign:   v.PaySign,
			}
			assert.Equal(t, want, jsapiParams(s, v.AppID, v.PrepayID, v.NonceStr, v.TimeStamp))
			// The exported method draws its own nonce, always NonceLen
			// long; vectors with such a nonce go through it end to end.
			if len(v.NonceStr) == NonceLen {
				c := vectorClient(t, v.AppID, "10000100", v.Key, v.SignType, v.TimeStamp, v.NonceStr)
				got, err := c.JSAPIParams(v.PrepayID)
				require.NoError(t, err)
				assert.Equal(t, want, got)
			}
		})
	}
}

func TestJSAPIParamsJSON(t *testing.T) {
	t.Parallel()
	c, err := NewClient(testConfig(), WithClock(testClock), WithRand(&seqReader{}))
	require.NoError(t, err)
	p, err := c.JSAPIParams("wx201410272009395522657a690389285100")
	require.NoError(t, err)
	b, err := json.Marshal(p)
	require.NoError(t, err)
	var m map[string]string
	require.NoError(t, json.Unmarshal(b, &m))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	assert.Equal(t, []string{"appId", "nonceStr", "package", "paySign", "signType", "timeStamp"}, keys)
	assert.Equal(t, "1714536000", m["timeStamp"])
	assert.Equal(t, firstSeqNonce, m["nonceStr"])
	assert.Equal(t, "MD5", m["signType"])
	// Independent check of the signed set: the five camelCase fields.
	assert.Equal(t, refSign(testKey, SignMD5, Params{"appId": testAppID, "timeStamp": "1714536000", "nonceStr": firstSeqNonce,
		"package": "prepay_id=wx201410272009395522657a690389285100", "signType": "MD5"}), m["paySign"])
}

func TestPayParamsRejectPrepayID(t *testing.T) {
	t.Parallel()
	c, err := NewClient(testConfig())
	require.NoError(t, err)
	for _, id := range []string{"", strings.Repeat("w", 65)} {
		j, err := c.JSAPIParams(id)
		assert.Nil(t, j)
		assertClean(t, err)
		assert.ErrorAs(t, err, new(*RequestError))
		a, err := c.AppPayParams(id)
		assert.Nil(t, a)
		assertClean(t, err)
		assert.ErrorAs(t, err, new(*RequestError))
	}
}

func TestAppPayParamsVector(t *testing.T) {
	t.Parallel()
	v := loadPayVectors(t).App[0]
	// The vector's canonical string and sign agree, independently of wxpay.
	require.Equal(t, v.Sign, md5Upper(v.Canonical+"&key="+v.Key))
	want := &AppPayParams{
		AppID: v.AppID, PartnerID: v.PartnerID, PrepayID: v.PrepayID, Package: "Sign=WXPay",
		NonceStr: v.NonceStr, TimeStamp: v.Timestamp, Sign: v.Sign,
	}
	c := vectorClient(t, v.AppID, v.PartnerID, v.Key, v.SignType, v.Timestamp, v.NonceStr)
	got, err := c.AppPayParams(v.PrepayID)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	b, err := json.Marshal(got)
	require.NoError(t, err)
	assert.JSONEq(t, `{"appid":"wxd930ea5d5a258f4f","partnerid":"10000100","prepayid":"wx201410272009395522657a690389285100",
		"package":"Sign=WXPay","noncestr":"5K8264ILTKCH16CQ2502SI8ZNMTM67VS","timestamp":"1412000000",
		"sign":"2919569F617B3B20A0A9E632811185FD"}`, string(b))
}

func TestNativeBizPayURLVector(t *testing.T) {
	t.Parallel()
	v := loadPayVectors(t).BizPayURL[0]
	s, err := NewSigner(v.Key, SignType(v.SignType))
	require.NoError(t, err)
	assert.Equal(t, v.URL, bizPayURL(s, v.AppID, v.MchID, v.ProductID, v.NonceStr, v.TimeStamp))
}

func TestNativeBizPayURL(t *testing.T) {
	t.Parallel()
	c, err := NewClient(testConfig(), WithClock(testClock), WithRand(&seqReader{}))
	require.NoError(t, err)
	got, err := c.NativeBizPayURL("88888")
	require.NoError(t, err)
	want := "weixin://wxpay/bizpayurl?sign=" +
		refSign(testKey, SignMD5, Params{"appid": testAppID, "mch_id": testMchID, "product_id": "88888", "time_stamp": "1714536000", "nonce_str": firstSeqNonce}) +
		"&appid=" + testAppID + "&mch_id=" + testMchID + "&product_id=88888&time_stamp=1714536000&nonce_str=" + firstSeqNonce
	assert.Equal(t, want, got)

	// URL syntax and other scripts are fine, and escaped in the URL.
	odd, err := c.NativeBizPayURL("SKU/1+2 商品")
	require.NoError(t, err)
	u, err := url.Parse(odd)
	require.NoError(t, err)
	q := u.Query()
	assert.Equal(t, "SKU/1+2 商品", q.Get("product_id"))
	assert.Equal(t, refSign(testKey, SignMD5, Params{"appid": testAppID, "mch_id": testMchID, "product_id": "SKU/1+2 商品",
		"time_stamp": q.Get("time_stamp"), "nonce_str": q.Get("nonce_str")}), q.Get("sign"))

	// '&' and '=' would reshape the signed string.
	for _, id := range []string{"", strings.Repeat("9", 33), "a&b=c", "1&time_stamp=1", "a=b", "a\nb", "\xff"} {
		_, err := c.NativeBizPayURL(id)
		assertClean(t, err)
		assert.ErrorAs(t, err, new(*RequestError))
	}
}
