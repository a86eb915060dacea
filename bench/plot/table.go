package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// A table is a Markdown table: its header cells and its rows of cells.
type table struct {
	header []string
	rows   [][]string
}

// errNoTable reports a page without the table a plot needs.
var errNoTable = errors.New("plot: table not found")

// findTable returns the first Markdown table after the line that starts
// with after ("" for the first table of the page) whose header has every
// one of cols.
func findTable(page, after string, cols ...string) (*table, error) {
	lines := strings.Split(page, "\n")
	start := 0
	if after != "" {
		start = -1
		for i, l := range lines {
			if strings.HasPrefix(l, after) {
				start = i
				break
			}
		}
		if start < 0 {
			return nil, fmt.Errorf("%w: no line starts with %q", errNoTable, after)
		}
	}
	for i := start; i+1 < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "|") || !strings.HasPrefix(lines[i+1], "|---") {
			continue
		}
		t := &table{header: cells(lines[i])}
		if !hasAll(t.header, cols) {
			continue
		}
		for _, l := range lines[i+2:] {
			if !strings.HasPrefix(l, "|") {
				break
			}
			row := cells(l)
			if len(row) != len(t.header) {
				return nil, fmt.Errorf("plot: row %q has %d cells, the header %d", l, len(row), len(t.header))
			}
			t.rows = append(t.rows, row)
		}
		return t, nil
	}
	return nil, fmt.Errorf("%w: no table with columns %q after %q", errNoTable, cols, after)
}

func cells(line string) []string {
	parts := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}

func hasAll(header, cols []string) bool {
	for _, c := range cols {
		if indexOf(header, c) < 0 {
			return false
		}
	}
	return true
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// get returns the cell of row in column col.
func (t *table) get(row []string, col string) string { return row[indexOf(t.header, col)] }

// number reads a cell such as "11 837", "0.92" or "1.02×" as a float.
func (t *table) number(row []string, col string) (float64, error) {
	s := t.get(row, col)
	s = strings.NewReplacer(" ", "", "\u00a0", "", "\u202f", "", "×", "").Replace(s)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("plot: column %q: %q is not a number", col, t.get(row, col))
	}
	return v, nil
}
