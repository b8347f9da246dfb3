// Log in, pick a shop, fill a cart with its goods, place the order.
const { api, login, yuan, errorText } = require('../../utils/api.js');

function randomKey() {
  const hex = '0123456789abcdef';
  let s = '';
  for (let i = 0; i < 32; i++) s += hex[Math.floor(Math.random() * 16)];
  return s;
}

Page({
  data: {
    userID: 0,
    shops: [],
    shop: null,
    goods: [],
    cart: [], // {goods_id, name, price, count}
    total: '¥0.00',
    error: '',
  },
  idemKey: '',

  fail(e) {
    this.setData({ error: errorText(e) });
  },

  async onLoad() {
    try {
      const r = await login();
      const page = await api('GET', '/shops?page=1&limit=100');
      this.setData({ userID: r.user_id, shops: page.items, error: '' });
    } catch (e) {
      this.fail(e);
    }
  },

  async openShop(ev) {
    const shop = this.data.shops[ev.currentTarget.dataset.index];
    try {
      const page = await api('GET', `/shops/${shop.id}/goods?page=1&limit=100`);
      const goods = page.items.map((g) => Object.assign({}, g, { price: yuan(g.price_fen) }));
      this.setData({ shop: shop, goods: goods, error: '' });
    } catch (e) {
      this.fail(e);
    }
  },

  add(ev) {
    const g = this.data.goods[ev.currentTarget.dataset.index];
    const cart = this.data.cart.slice();
    const line = cart.find((l) => l.goods_id === g.id);
    if (line) line.count++;
    else cart.push({ goods_id: g.id, name: g.name, price_fen: g.price_fen, price: g.price, count: 1 });
    this.idemKey = ''; // another cart is another order
    this.setData({ cart: cart, total: yuan(cart.reduce((s, l) => s + l.price_fen * l.count, 0)) });
  },

  // The order carries goods ids and counts only: the server prices it.
  async placeOrder() {
    if (!this.idemKey) this.idemKey = randomKey();
    const items = this.data.cart.map((l) => ({ goods_id: l.goods_id, count: l.count }));
    try {
      const o = await api('POST', '/orders', { items: items }, { 'Idempotency-Key': this.idemKey });
      this.idemKey = '';
      this.setData({ cart: [], total: '¥0.00', error: '' });
      wx.navigateTo({ url: '/pages/order/order?id=' + o.id });
    } catch (e) {
      this.fail(e);
    }
  },

  myOrders() {
    wx.navigateTo({ url: '/pages/orders/orders' });
  },
});
