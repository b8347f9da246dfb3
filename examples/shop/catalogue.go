package shop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"
)

// Catalogue is a list of shops with their goods, as the catalogue file of
// `server catalogue import` holds it:
//
//	{"shops": [{"id": 1, "name": "街角咖啡", "address": "…",
//	            "goods": [{"id": 101, "name": "美式咖啡", "price_fen": 1800}]}]}
type Catalogue struct {
	Shops []CatalogueShop `json:"shops"`
}

// CatalogueShop is a shop of a catalogue file, with its goods.
type CatalogueShop struct {
	ID      int64            `json:"id"`
	Name    string           `json:"name"`
	Address string           `json:"address"`
	Goods   []CatalogueGoods `json:"goods"`
}

// CatalogueGoods is a goods of a catalogue file.
type CatalogueGoods struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	PriceFen int64  `json:"price_fen"`
}

// Limits of a catalogue file.
const (
	MaxCatalogueBytes = 4 << 20 // the file
	MaxCatalogueShops = 1000
	MaxCatalogueGoods = 20_000 // in all shops together
	maxIDValue        = 1<<53 - 1
)

// ErrCatalogue is matched (errors.Is) by every refusal of a catalogue
// file.
var ErrCatalogue = errors.New("catalogue file refused")

// ParseCatalogue reads a catalogue file: one JSON object, no unknown
// fields, at most MaxCatalogueBytes, ids positive and below 2^53 (so
// JavaScript keeps them exact) and unique, names and addresses 1 to 100
// characters of printable UTF-8, prices from 1 fen to MaxOrderFen. The
// error names the first problem found, and matches [ErrCatalogue].
func ParseCatalogue(b []byte) (Catalogue, error) {
	var c Catalogue
	bad := func(format string, args ...any) (Catalogue, error) {
		return Catalogue{}, fmt.Errorf("%w: "+format, append([]any{ErrCatalogue}, args...)...)
	}
	if len(b) > MaxCatalogueBytes {
		return bad("larger than %d bytes", MaxCatalogueBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return bad("not a catalogue JSON object: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("data after the JSON object")
	}
	if len(c.Shops) == 0 {
		return bad(`no shops (the file is {"shops": [...]})`)
	}
	if len(c.Shops) > MaxCatalogueShops {
		return bad("more than %d shops", MaxCatalogueShops)
	}
	shops, goods, n := map[int64]bool{}, map[int64]bool{}, 0
	for i, s := range c.Shops {
		switch {
		case s.ID < 1 || s.ID > maxIDValue:
			return bad("shop %d: id must be from 1 to 2^53-1", i+1)
		case shops[s.ID]:
			return bad("shop id %d appears twice", s.ID)
		case !catalogueText(s.Name):
			return bad("shop %d: name must be 1 to 100 printable characters", s.ID)
		case !catalogueText(s.Address):
			return bad("shop %d: address must be 1 to 100 printable characters", s.ID)
		}
		shops[s.ID] = true
		for _, g := range s.Goods {
			if n++; n > MaxCatalogueGoods {
				return bad("more than %d goods", MaxCatalogueGoods)
			}
			switch {
			case g.ID < 1 || g.ID > maxIDValue:
				return bad("shop %d: goods id must be from 1 to 2^53-1", s.ID)
			case goods[g.ID]:
				return bad("goods id %d appears twice", g.ID)
			case !catalogueText(g.Name):
				return bad("goods %d: name must be 1 to 100 printable characters", g.ID)
			case g.PriceFen < 1 || g.PriceFen > MaxOrderFen:
				return bad("goods %d: price_fen must be from 1 to %d", g.ID, MaxOrderFen)
			}
			goods[g.ID] = true
		}
	}
	return c, nil
}

// catalogueText: 1 to 100 characters of valid UTF-8 without control
// characters; the names reach WeChat's body field (see orderBody) and
// the payer's screen.
func catalogueText(s string) bool {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > 100 {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// ImportResult counts what an import changed.
type ImportResult struct {
	Shops, Goods int // rows written, new or updated
}

// ImportCatalogue writes c in one transaction: shops and goods are
// inserted, or updated in place by id (a price change never alters a
// placed order: its lines keep the price they were placed at). Nothing is
// deleted: orders refer to goods. A goods that exists under another shop
// is refused, and then nothing is written.
func ImportCatalogue(ctx context.Context, db *DB, c Catalogue) (ImportResult, error) {
	return db.importCatalogue(ctx, c)
}

// DemoCatalogue is the demo shops and goods of fake mode.
var DemoCatalogue = Catalogue{Shops: []CatalogueShop{
	{ID: 1, Name: "街角咖啡", Address: "上海市徐汇区衡山路 12 号", Goods: []CatalogueGoods{
		{101, "美式咖啡", 1800}, {102, "拿铁", 2400}, {103, "抹茶拿铁", 2600}, {104, "可颂", 1500}, {105, "芝士蛋糕", 3200}}},
	{ID: 2, Name: "老王面馆", Address: "北京市东城区东四北大街 88 号", Goods: []CatalogueGoods{
		{201, "牛肉面", 2800}, {202, "炸酱面", 2200}, {203, "凉拌黄瓜", 800}, {204, "卤蛋", 300}}},
	{ID: 3, Name: "小林书店", Address: "杭州市西湖区南山路 3 号", Goods: []CatalogueGoods{
		{301, "《边城》", 2500}, {302, "《围城》", 3900}, {303, "明信片一套", 1200}}},
}}

// SeedDemo puts the demo catalogue in, for fake mode only: rows that are
// missing are inserted, and rows that exist (the demo of an earlier
// start, or a catalogue imported under the same ids) are left as they
// are. Several instances may run it at once.
func SeedDemo(ctx context.Context, db *DB) error {
	return db.insertMissing(ctx, DemoCatalogue)
}
