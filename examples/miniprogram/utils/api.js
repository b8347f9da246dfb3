// Every call to the example server goes through api(method, path, ...) with
// a literal path: a test reads them here and checks each against the
// server's openapi.json. The browser demo (examples/app/web) makes the
// same calls.

// ApiError carries the server's {"error": {"code", "message", "request_id"}}.
class ApiError extends Error {
  constructor(code, message, requestID, status) {
    super(message);
    this.code = code;
    this.requestID = requestID || '';
    this.status = status || 0;
  }
}

function request(url, method, data, header) {
  return new Promise((resolve, reject) => {
    wx.request({
      url: url,
      method: method,
      data: data,
      header: header,
      dataType: 'json',
      success: resolve,
      fail: (err) => reject(new ApiError('network', err.errMsg || 'request failed')),
    });
  });
}

// api calls the server with the JWT once logged in, and rejects with the
// API's error as the API words it.
async function api(method, path, body, headers) {
  const app = getApp();
  const header = Object.assign({ Accept: 'application/json' }, headers || {});
  if (app.globalData.token) header.Authorization = 'Bearer ' + app.globalData.token;
  if (body !== undefined) header['Content-Type'] = 'application/json';
  const res = await request(app.globalData.baseURL + path, method, body, header);
  const h = res.header || {};
  if (h['X-Wxpay-Fake'] || h['x-wxpay-fake']) app.globalData.fake = true;
  if (res.statusCode < 200 || res.statusCode > 299) {
    const e = res.data && res.data.error;
    if (e && typeof e.message === 'string') throw new ApiError(e.code, e.message, e.request_id, res.statusCode);
    throw new ApiError('http_' + res.statusCode, 'HTTP ' + res.statusCode, '', res.statusCode);
  }
  return res.data;
}

// wechat asks the server's fake WeChat (fake mode only) to play the WeChat
// client: a login code as wx.login gives, or the user confirming a payment.
async function wechat(path, body) {
  const app = getApp();
  const res = await request(app.globalData.baseURL + '/fake' + path, 'POST', body, { 'Content-Type': 'application/json' });
  if (res.statusCode < 200 || res.statusCode > 299) {
    // The fake answers in the API's error shape too.
    const e = res.data && res.data.error;
    if (e && typeof e.message === 'string') throw new ApiError(e.code, e.message, e.request_id, res.statusCode);
    throw new ApiError('wechat', 'HTTP ' + res.statusCode, '', res.statusCode);
  }
  return res.data;
}

function wxLogin() {
  return new Promise((resolve, reject) => {
    wx.login({ success: (r) => resolve(r.code), fail: (e) => reject(new ApiError('wechat', e.errMsg)) });
  });
}

// login trades a wx.login code for the server's JWT. The server keeps
// WeChat's session key; the mini-program never sees it.
async function login() {
  await api('GET', '/healthz'); // learns whether the server is in fake mode
  const app = getApp();
  const code = app.globalData.fake ? (await wechat('/wxpaytest/login', {})).code : await wxLogin();
  const r = await api('POST', '/users/wxLogin', { code: code });
  app.globalData.token = r.token;
  return r;
}

// requestPayment pays with the server's wx.requestPayment arguments. On a
// server in fake mode, the fake WeChat plays the user confirming instead:
// real WeChat would refuse the fake's prepay_id.
async function requestPayment(payment) {
  if (getApp().globalData.fake) {
    return wechat('/wxpaytest/pay', payment);
  }
  return new Promise((resolve, reject) => {
    wx.requestPayment(Object.assign({}, payment, {
      success: resolve,
      fail: (e) => reject(new ApiError('wechat', e.errMsg)),
    }));
  });
}

// yuan formats integer fen as yuan without floating point: 1800 -> ¥18.00.
function yuan(fen) {
  const f = Math.trunc(Number(fen));
  return '¥' + Math.trunc(f / 100) + '.' + String(f % 100).padStart(2, '0');
}

// errorText is how the pages show an error: the API's code and words.
function errorText(e) {
  let s = (e.code ? e.code + ': ' : '') + (e.message || String(e));
  if (e.requestID) s += ' (request ' + e.requestID + ')';
  return s;
}

module.exports = { api, login, requestPayment, yuan, errorText };
