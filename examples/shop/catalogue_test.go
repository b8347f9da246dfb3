package shop

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"
)

func TestParseCatalogue(t *testing.T) {
	good := `{"shops":[{"id":1,"name":"店","address":"路 1 号","goods":[{"id":10,"name":"茶","price_fen":500}]}]}`
	c, err := ParseCatalogue([]byte(good))
	if err != nil || len(c.Shops) != 1 || c.Shops[0].Goods[0].PriceFen != 500 {
		t.Fatalf("%+v %v", c, err)
	}
	long := strings.Repeat("长", 101)
	for name, in := range map[string]string{
		"empty":              ``,
		"not JSON":           `{`,
		"array":              `[]`,
		"no shops":           `{"shops":[]}`,
		"unknown field":      `{"shops":[{"id":1,"name":"a","address":"b","owner":"x"}]}`,
		"trailing data":      good + `{}`,
		"zero shop id":       `{"shops":[{"id":0,"name":"a","address":"b"}]}`,
		"huge shop id":       `{"shops":[{"id":9007199254740992,"name":"a","address":"b"}]}`,
		"duplicate shop":     `{"shops":[{"id":1,"name":"a","address":"b"},{"id":1,"name":"c","address":"d"}]}`,
		"empty name":         `{"shops":[{"id":1,"name":"","address":"b"}]}`,
		"long name":          `{"shops":[{"id":1,"name":"` + long + `","address":"b"}]}`,
		"control character":  `{"shops":[{"id":1,"name":"a\u0007","address":"b"}]}`,
		"invalid UTF-8":      "{\"shops\":[{\"id\":1,\"name\":\"\xff\",\"address\":\"b\"}]}",
		"no address":         `{"shops":[{"id":1,"name":"a"}]}`,
		"zero price":         `{"shops":[{"id":1,"name":"a","address":"b","goods":[{"id":2,"name":"g","price_fen":0}]}]}`,
		"negative price":     `{"shops":[{"id":1,"name":"a","address":"b","goods":[{"id":2,"name":"g","price_fen":-1}]}]}`,
		"price over the cap": `{"shops":[{"id":1,"name":"a","address":"b","goods":[{"id":2,"name":"g","price_fen":10000001}]}]}`,
		"fractional price":   `{"shops":[{"id":1,"name":"a","address":"b","goods":[{"id":2,"name":"g","price_fen":1.5}]}]}`,
		"duplicate goods":    `{"shops":[{"id":1,"name":"a","address":"b","goods":[{"id":2,"name":"g","price_fen":1}]},{"id":3,"name":"a","address":"b","goods":[{"id":2,"name":"h","price_fen":1}]}]}`,
		"goods without name": `{"shops":[{"id":1,"name":"a","address":"b","goods":[{"id":2,"price_fen":1}]}]}`,
		"too large":          `{"shops":[{"id":1,"name":"a","address":"` + strings.Repeat(" ", MaxCatalogueBytes) + `"}]}`,
	} {
		if _, err := ParseCatalogue([]byte(in)); !errors.Is(err, ErrCatalogue) {
			t.Errorf("%s: %v; want ErrCatalogue", name, err)
		}
	}
}

func FuzzParseCatalogue(f *testing.F) {
	f.Add([]byte(`{"shops":[{"id":1,"name":"店","address":"路","goods":[{"id":10,"name":"茶","price_fen":500}]}]}`))
	f.Add([]byte(`{"shops":[{"id":1,"name":"a","address":"b","goods":[{"id":1,"name":"a","price_fen":1}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCatalogue(b)
		if err != nil {
			if !errors.Is(err, ErrCatalogue) {
				t.Fatalf("error %v does not match ErrCatalogue", err)
			}
			return
		}
		for _, s := range c.Shops {
			if s.ID < 1 || !catalogueText(s.Name) || !catalogueText(s.Address) {
				t.Fatalf("accepted shop %+v", s)
			}
			for _, g := range s.Goods {
				if g.ID < 1 || g.PriceFen < 1 || g.PriceFen > MaxOrderFen || !catalogueText(g.Name) {
					t.Fatalf("accepted goods %+v", g)
				}
			}
		}
	})
}

// TestImportCatalogue: an import inserts, then updates in place by id, and
// refuses to move a goods to another shop, writing nothing then. A fresh
// database holds no demo catalogue; SeedDemo puts it in, once.
func TestImportCatalogue(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, t.TempDir()+"/c.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func(q string) int {
		var n int
		if err := db.R.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT COUNT(*) FROM shops`) + count(`SELECT COUNT(*) FROM goods`); n != 0 {
		t.Fatalf("a fresh database holds %d catalogue rows; the demo is fake mode's", n)
	}
	c, _ := ParseCatalogue([]byte(`{"shops":[{"id":7,"name":"店","address":"路","goods":[{"id":70,"name":"茶","price_fen":500}]}]}`))
	if res, err := ImportCatalogue(ctx, db, c); err != nil || res != (ImportResult{1, 1}) {
		t.Fatalf("%+v %v", res, err)
	}
	c.Shops[0].Goods[0].PriceFen = 600
	if _, err := ImportCatalogue(ctx, db, c); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT price_fen FROM goods WHERE id = 70`); n != 600 {
		t.Errorf("price %d after the update", n)
	}
	moved, _ := ParseCatalogue([]byte(`{"shops":[{"id":8,"name":"新店","address":"路","goods":[{"id":70,"name":"茶","price_fen":500}]}]}`))
	if _, err := ImportCatalogue(ctx, db, moved); !errors.Is(err, ErrCatalogue) {
		t.Fatalf("moving a goods: %v", err)
	}
	if n := count(`SELECT COUNT(*) FROM shops WHERE id = 8`); n != 0 {
		t.Error("a refused import wrote a shop")
	}
	for range 2 {
		if err := SeedDemo(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(`SELECT COUNT(*) FROM goods`); n != 13 {
		t.Errorf("%d goods after seeding the demo twice beside one imported; want 13", n)
	}
}

// TestDemoRemovedFromOldDatabases: a database made before the demo became
// fake mode's (00002 ran on it) loses, at the next start, the demo rows
// nobody ordered or edited; the rows an order refers to, and the ones
// edited into a real catalogue, stay.
func TestDemoRemovedFromOldDatabases(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/old.db"
	old, err := Open(ctx, path) // creates the file; then back to version 50
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := fs.Sub(migrations, "migrations")
	p, err := goose.NewProvider(goose.DialectSQLite3, old.W, sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 50); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO users (id, openid, created_at) VALUES (1, 'o1', 0)`,
		`INSERT INTO orders (id, user_id, shop_id, total_fen, status, created_at) VALUES (1, 1, 1, 1800, 'unpaid', 0)`,
		`INSERT INTO order_lines (order_id, goods_id, name, price_fen, count) VALUES (1, 101, '美式咖啡', 1800, 1)`,
		`UPDATE goods SET price_fen = 2900 WHERE id = 201`, // edited into a real catalogue
	} {
		if _, err := old.W.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	old.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var shops, goods string
	db.R.QueryRowContext(ctx, `SELECT group_concat(id) FROM (SELECT id FROM shops ORDER BY id)`).Scan(&shops)
	db.R.QueryRowContext(ctx, `SELECT group_concat(id) FROM (SELECT id FROM goods ORDER BY id)`).Scan(&goods)
	if shops != "1,2" || goods != "101,201" {
		t.Errorf("after the migration: shops %s, goods %s; want 1,2 and 101,201", shops, goods)
	}
}
