-- +goose Up
-- 00002 seeded the demo catalogue into every database, production ones
-- included. The demo is now seeded by fake mode only (shop.SeedDemo, at
-- each start in fake mode), so this removes it from every database: each
-- demo row still exactly as 00002 wrote it and that no order refers to.
-- A row someone edited into their real catalogue, or one that orders
-- refer to, stays (README: "The demo catalogue"). Fake mode puts the
-- removed rows back at its next start.

DELETE FROM goods WHERE id = 101 AND shop_id = 1 AND name = '美式咖啡' AND price_fen = 1800
    AND NOT EXISTS (SELECT 1 FROM order_lines WHERE goods_id = 101);
DELETE FROM goods WHERE id = 102 AND shop_id = 1 AND name = '拿铁' AND price_fen = 2400
    AND NOT EXISTS (SELECT 1 FROM order_lines WHERE goods_id = 102);
DELETE FROM goods WHERE id = 103 AND shop_id = 1 AND name = '抹茶拿铁' AND price_fen = 2600
    AND NOT EXISTS (SELECT 1 FROM order_lines WHERE goods_id = 103);
DELETE FROM goods WHERE id = 104 AND shop_id = 1 AND name = '可颂' AND price_fen = 1500
    AND NOT EXISTS (SELECT 1 FROM order_lines WHERE goods_id = 104);
DELETE FROM goods WHERE id = 105 AND shop_id = 1 AND name = '芝士蛋糕' AND price_fen = 3200
    AND NOT EXISTS (SELECT 1 FROM order_lines WHERE goods_id = 105);
DELETE FROM goods WHERE id = 201 AND shop_id = 2 AND name = '牛肉面' AND price_fen = 2800
    AND NOT EXISTS (SELECT 1 FROM order_lines WHERE goods_id = 201);
DELETE FROM goods WHERE id = 202 AND shop_id = 2 AND name = '炸酱面' AND price_fen = 2200
    AND NOT EXISTS (SELECT 1 FROM order_lines WHERE goods_id = 202);
DELETE FROM goods WHERE id = 203 AND shop_id = 2 AND name = '凉拌黄瓜' AND price_fen = 800
    AND NOT EXISTS (SELECT 1 FROM order_lines WHERE goods_id = 203);
DELETE FROM goods WHERE id = 204 AND shop_id = 2 AND name = '卤蛋' AND price_fen = 300
    AND NOT EXISTS (SELECT 1 FROM order_lines WHERE goods_id = 204);
DELETE FROM goods WHERE id = 301 AND shop_id = 3 AND name = '《边城》' AND price_fen = 2500
    AND NOT EXISTS (SELECT 1 FROM order_lines WHERE goods_id = 301);
DELETE FROM goods WHERE id = 302 AND shop_id = 3 AND name = '《围城》' AND price_fen = 3900
    AND NOT EXISTS (SELECT 1 FROM order_lines WHERE goods_id = 302);
DELETE FROM goods WHERE id = 303 AND shop_id = 3 AND name = '明信片一套' AND price_fen = 1200
    AND NOT EXISTS (SELECT 1 FROM order_lines WHERE goods_id = 303);
DELETE FROM shops WHERE id = 1 AND name = '街角咖啡' AND address = '上海市徐汇区衡山路 12 号'
    AND NOT EXISTS (SELECT 1 FROM goods WHERE shop_id = 1) AND NOT EXISTS (SELECT 1 FROM orders WHERE shop_id = 1);
DELETE FROM shops WHERE id = 2 AND name = '老王面馆' AND address = '北京市东城区东四北大街 88 号'
    AND NOT EXISTS (SELECT 1 FROM goods WHERE shop_id = 2) AND NOT EXISTS (SELECT 1 FROM orders WHERE shop_id = 2);
DELETE FROM shops WHERE id = 3 AND name = '小林书店' AND address = '杭州市西湖区南山路 3 号'
    AND NOT EXISTS (SELECT 1 FROM goods WHERE shop_id = 3) AND NOT EXISTS (SELECT 1 FROM orders WHERE shop_id = 3);

-- +goose Down
-- Nothing to undo: fake mode seeds the demo again, and real mode never
-- wanted it.
SELECT 1;
