package refsign

import "testing"

// The official worked example of the signing rules (WeChat Pay docs,
// 安全规范, https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3):
// its fields, key, string-to-sign and both signs.
func TestOfficialExample(t *testing.T) {
	fields := map[string]string{
		"appid":       "wxd930ea5d5a258f4f",
		"mch_id":      "10000100",
		"device_info": "1000",
		"body":        "test",
		"nonce_str":   "ibuaiVcKdpRxkhJA",
		"empty":       "",
		"sign":        "ignored",
	}
	const key = "192006250b4c09247ec02edce69f6a2d"
	const wantString = "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d"
	if got := Canonical(fields, key); got != wantString {
		t.Fatalf("Canonical = %q, want %q", got, wantString)
	}
	if got, want := Sign(fields, key, "MD5"), "9A0A8659F005D6984697E2CA0A9CF3B7"; got != want {
		t.Errorf("MD5 sign = %s, want %s", got, want)
	}
	if got, want := Sign(fields, key, "HMAC-SHA256"), "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"; got != want {
		t.Errorf("HMAC-SHA256 sign = %s, want %s", got, want)
	}
}
