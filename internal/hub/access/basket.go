package access

import (
	"context"
	"fmt"
)

// BasketItem is a dataset in a researcher's basket.
type BasketItem struct {
	Node    string `json:"node"`
	Dataset string `json:"dataset"`
}

// Basket returns user's basket, in the order the datasets were added.
func (s *Store) Basket(ctx context.Context, user string) ([]BasketItem, error) {
	rows, err := s.db.Query(ctx, `SELECT node, dataset FROM baskets WHERE user_name = ? ORDER BY added_ms, dataset`, user)
	if err != nil {
		return nil, fmt.Errorf("reading the basket of %s: %w", user, err)
	}
	defer rows.Close()
	var out []BasketItem
	for rows.Next() {
		var b BasketItem
		if err := rows.Scan(&b.Node, &b.Dataset); err != nil {
			return nil, fmt.Errorf("reading the basket of %s: %w", user, err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// AddToBasket puts a dataset in user's basket; adding it again changes nothing.
func (s *Store) AddToBasket(ctx context.Context, user string, b BasketItem) error {
	if user == "" {
		return fmt.Errorf("%w: log in to use a basket", ErrForbidden)
	}
	if b.Node == "" || b.Dataset == "" {
		return invalid("dataset", "a dataset without node or identifier")
	}
	var n int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM baskets WHERE user_name = ?`, user).Scan(&n); err != nil {
		return fmt.Errorf("reading the basket of %s: %w", user, err)
	}
	if n >= 500 {
		return invalid("dataset", "the basket holds 500 datasets already")
	}
	_, err := s.db.Exec(ctx, `INSERT INTO baskets (user_name, dataset, node, added_ms) VALUES (?, ?, ?, ?) ON CONFLICT (user_name, dataset) DO NOTHING`,
		user, b.Dataset, b.Node, s.now().UnixMilli())
	if err != nil {
		return fmt.Errorf("adding %s to the basket of %s: %w", b.Dataset, user, err)
	}
	return nil
}

// RemoveFromBasket takes datasets out of user's basket.
func (s *Store) RemoveFromBasket(ctx context.Context, user string, datasets ...string) error {
	for _, d := range datasets {
		if _, err := s.db.Exec(ctx, `DELETE FROM baskets WHERE user_name = ? AND dataset = ?`, user, d); err != nil {
			return fmt.Errorf("removing %s from the basket of %s: %w", d, user, err)
		}
	}
	return nil
}
