// Runs the mini-program's pages (../../miniprogram) in Node against the
// example server in fake mode, with a stand-in for the WeChat runtime:
// App, Page, getApp, setData, wx.request over fetch, wx.navigateTo. It
// plays a user through the pages as they are (log in, a refused cart,
// goods, an order, paying, the order turning paid, the list of orders) and
// prints what the pages showed, as JSON, for TestMiniProgram to check.
//
//   node wxrun.js <mini-program directory> <server URL>
'use strict';

const path = require('path');

const dir = path.resolve(process.argv[2]);
const base = process.argv[3];
let app = null;
let loading = '';
const defs = {};
const navigations = [];

global.App = (o) => { app = o; };
global.getApp = () => app;
global.Page = (o) => { defs[loading] = o; };
global.wx = {
  request(o) {
    fetch(o.url, {
      method: o.method,
      headers: o.header,
      body: o.data === undefined ? undefined : JSON.stringify(o.data),
    }).then(async (resp) => {
      const text = await resp.text();
      let data = text;
      try { data = JSON.parse(text); } catch (e) { /* as WeChat: the text */ }
      const header = {};
      resp.headers.forEach((v, k) => { header[k] = v; });
      o.success({ statusCode: resp.status, data: data, header: header });
    }, (e) => o.fail({ errMsg: 'request:fail ' + e.message }));
  },
  // Fake mode never reaches these: the pages ask the fake WeChat instead.
  login(o) { o.fail({ errMsg: 'login:fail not in WeChat' }); },
  requestPayment(o) { o.fail({ errMsg: 'requestPayment:fail not in WeChat' }); },
  navigateTo(o) { navigations.push(o.url); },
};

// page makes an instance of a page, as WeChat does on navigation.
function page(route) {
  loading = route;
  require(path.join(dir, route + '.js'));
  const p = Object.assign({}, defs[route]);
  p.data = JSON.parse(JSON.stringify(defs[route].data || {}));
  p.setData = (d) => Object.assign(p.data, d);
  return p;
}

const tap = (index) => ({ currentTarget: { dataset: { index: index } } });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  require(path.join(dir, 'app.js'));
  app.globalData.baseURL = base;
  const out = {};

  // Goods of two shops in one cart: the API refuses, the page shows why.
  const mixed = page('pages/index/index');
  await mixed.onLoad();
  if (mixed.data.error) throw new Error('logging in: ' + mixed.data.error);
  out.user_id = mixed.data.userID;
  out.shops = mixed.data.shops.map((s) => s.name);
  await mixed.openShop(tap(0));
  mixed.add(tap(0));
  await mixed.openShop(tap(1));
  mixed.add(tap(0));
  await mixed.placeOrder();
  out.mixed_error = mixed.data.error;

  const index = page('pages/index/index');
  await index.onLoad();
  await index.openShop(tap(0));
  out.goods = index.data.goods.map((g) => g.name + ' ' + g.price);
  index.add(tap(0));
  index.add(tap(1));
  out.cart_total = index.data.total;
  await index.placeOrder();
  if (index.data.error) throw new Error('placing the order: ' + index.data.error);
  const to = navigations.pop();
  const id = new URL(to, 'http://x').searchParams.get('id');

  const order = page('pages/order/order');
  await order.onLoad({ id: id });
  out.status_before = order.data.order.status;
  await order.pay();
  if (order.data.error) throw new Error('paying: ' + order.data.error);
  for (let i = 0; i < 300 && order.data.order.status === 'unpaid'; i++) await sleep(100);
  order.onUnload();
  out.order = { id: String(order.data.order.id), status: order.data.order.status, total: order.data.total };
  out.payment = JSON.parse(order.data.payment);
  out.verdict = order.data.verdict;

  const orders = page('pages/orders/orders');
  await orders.onShow();
  out.orders = orders.data.orders.map((o) => ({ id: String(o.id), status: o.status, total: o.total, summary: o.summary }));
  out.navigations = navigations.concat([to]);
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write((e && e.stack) || String(e));
  process.exit(1);
});
