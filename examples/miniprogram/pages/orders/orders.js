// The user's orders, newest first, as the server lists them.
const { api, yuan, errorText } = require('../../utils/api.js');

Page({
  data: { orders: [], error: '' },

  async onShow() {
    try {
      const page = await api('GET', '/orders?page=1&limit=50');
      const orders = page.items.map((o) => Object.assign({}, o, {
        total: yuan(o.total_fen),
        summary: o.lines.map((l) => l.name + ' × ' + l.count).join('，'),
      }));
      this.setData({ orders: orders, error: '' });
    } catch (e) {
      this.setData({ error: errorText(e) });
    }
  },

  open(ev) {
    wx.navigateTo({ url: '/pages/order/order?id=' + ev.currentTarget.dataset.id });
  },
});
