package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/wxpay-go/wxpay/examples/shop"
)

// catalogueMain runs `server catalogue import [-db FILE] CATALOGUE.json`:
// the shops and goods of the file are inserted, or updated in place by
// id, in the database the server would use (DATABASE_URL, or -db /
// DB_PATH), in one transaction. It is how a real-mode shop gets its
// catalogue: real mode seeds none.
func catalogueMain(args []string, getenv func(string) string, stderr io.Writer) int {
	usage := "usage: server catalogue import [-db FILE] CATALOGUE.json (DATABASE_URL for PostgreSQL)"
	if len(args) < 2 || args[0] != "import" {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	flags, file := args[1:len(args)-1], args[len(args)-1]
	c, err := ParseConfig(flags, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "server catalogue import:", err)
		fmt.Fprintln(stderr, usage)
		return 2
	}
	if err := importCatalogue(context.Background(), c, file, stderr); err != nil {
		fmt.Fprintln(stderr, "server catalogue import:", err)
		return 1
	}
	return 0
}

func importCatalogue(ctx context.Context, c Config, file string, out io.Writer) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(f, shop.MaxCatalogueBytes+1))
	f.Close()
	if err != nil {
		return err
	}
	cat, err := shop.ParseCatalogue(b)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := shop.ImportCatalogue(ctx, db, cat)
	if err != nil {
		if errors.Is(err, shop.ErrCatalogue) {
			return err
		}
		return fmt.Errorf("nothing was imported: %w", err)
	}
	fmt.Fprintf(out, "imported %d shops and %d goods into %s\n", res.Shops, res.Goods, dbName(c))
	return nil
}
