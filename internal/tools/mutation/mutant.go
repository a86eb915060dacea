package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"

	"golang.org/x/tools/go/ast/astutil"
)

// A Mutant is one mutation of one operator, as gremlins names it.
type Mutant struct {
	File   string `json:"file"` // relative to the module root, slash-separated
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Type   string `json:"type"`   // gremlins' mutator, e.g. CONDITIONALS_NEGATION
	Status string `json:"status"` // gremlins' status, e.g. KILLED, LIVED, NOT COVERED
	// By says who ran it: "gremlins", or "overlay" for this command.
	By string `json:"by"`
	// Tests are the package directories (relative to the module root)
	// whose tests judge the mutant, when not only its own package's: a
	// package whose behaviour is tested through another, such as a
	// decision core through its transport adapter.
	Tests []string `json:"tests,omitempty"`
}

// final reports whether the status is a result, not gremlins' --dry-run
// listing (RUNNABLE, NOT COVERED) of a mutant still to be run.
func (m Mutant) final() bool { return m.Status != runnable && m.Status != notCovered }

// ID is how equivalent.txt names the mutant.
func (m Mutant) ID() string {
	return fmt.Sprintf("%s:%d:%d %s", m.File, m.Line, m.Column, m.Type)
}

// Statuses, as gremlins spells them.
const (
	killed     = "KILLED"
	lived      = "LIVED"
	notCovered = "NOT COVERED"
	notViable  = "NOT VIABLE"
	timedOut   = "TIMED OUT"
	// runnable is what gremlins --dry-run calls a covered mutant it did
	// not run.
	runnable = "RUNNABLE"
)

// mutations is gremlins' table (internal/engine/mappings.go, v0.6.0): what
// each mutator turns each operator into.
var mutations = map[string]map[token.Token]token.Token{
	"ARITHMETIC_BASE": {
		token.ADD: token.SUB, token.MUL: token.QUO, token.QUO: token.MUL,
		token.REM: token.MUL, token.SUB: token.ADD,
	},
	"CONDITIONALS_BOUNDARY": {
		token.GEQ: token.GTR, token.GTR: token.GEQ, token.LEQ: token.LSS, token.LSS: token.LEQ,
	},
	"CONDITIONALS_NEGATION": {
		token.EQL: token.NEQ, token.GEQ: token.LSS, token.GTR: token.LEQ,
		token.LEQ: token.GTR, token.LSS: token.GEQ, token.NEQ: token.EQL,
	},
	"INCREMENT_DECREMENT": {token.DEC: token.INC, token.INC: token.DEC},
	"INVERT_ASSIGNMENTS": {
		token.ADD_ASSIGN: token.SUB_ASSIGN, token.MUL_ASSIGN: token.QUO_ASSIGN,
		token.QUO_ASSIGN: token.MUL_ASSIGN, token.REM_ASSIGN: token.REM_ASSIGN,
		token.SUB_ASSIGN: token.ADD_ASSIGN,
	},
	"INVERT_BITWISE": {
		token.AND: token.OR, token.OR: token.AND, token.XOR: token.AND,
		token.AND_NOT: token.AND, token.SHL: token.SHR, token.SHR: token.SHL,
	},
	"INVERT_BWASSIGN": {
		token.AND_ASSIGN: token.OR_ASSIGN, token.OR_ASSIGN: token.AND_ASSIGN,
		token.XOR_ASSIGN: token.AND_ASSIGN, token.AND_NOT_ASSIGN: token.AND_ASSIGN,
		token.SHL_ASSIGN: token.SHR_ASSIGN, token.SHR_ASSIGN: token.SHL_ASSIGN,
	},
	"INVERT_LOGICAL":   {token.LAND: token.LOR, token.LOR: token.LAND},
	"INVERT_LOOPCTRL":  {token.BREAK: token.CONTINUE, token.CONTINUE: token.BREAK},
	"INVERT_NEGATIVES": {token.SUB: token.ADD},
	"REMOVE_SELF_ASSIGNMENTS": {
		token.ADD_ASSIGN: token.ASSIGN, token.AND_ASSIGN: token.ASSIGN,
		token.AND_NOT_ASSIGN: token.ASSIGN, token.MUL_ASSIGN: token.ASSIGN,
		token.OR_ASSIGN: token.ASSIGN, token.QUO_ASSIGN: token.ASSIGN,
		token.REM_ASSIGN: token.ASSIGN, token.SHL_ASSIGN: token.ASSIGN,
		token.SHR_ASSIGN: token.ASSIGN, token.SUB_ASSIGN: token.ASSIGN,
		token.XOR_ASSIGN: token.ASSIGN,
	},
}

// Where a mutated operator sits, for deciding who can run it.
type place int

const (
	// inStatement: in a function; it runs when its anchor statement starts.
	inStatement place = iota
	// inPackageDecl: in a package-level const or var, which always "runs".
	inPackageDecl
)

// A site is a located mutant: its file and operator.
type site struct {
	fset  *token.FileSet
	file  *ast.File
	op    *token.Token // the operator in the syntax tree
	from  token.Token  // the operator in the source
	to    token.Token  // what the mutant makes it
	place place
	// anchor is the statement whose start is in a covered block when the
	// operator's code runs (inStatement only): the innermost statement
	// holding it, or for a case clause's expressions the switch (or select).
	// Go's coverage leaves some executed code outside every block: case
	// expressions, and what follows a function literal in a statement
	// ("if err := f(func() {...}); err != nil"); its statement's start is
	// still in one.
	anchor ast.Node
}

// locate parses src and finds the operator of m.
func locate(filename string, src []byte, m Mutant) (*site, error) {
	table, ok := mutations[m.Type]
	if !ok {
		return nil, fmt.Errorf("%s: unknown mutator", m.ID())
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filename, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	tf := fset.File(f.Pos())
	if m.Line < 1 || m.Line > tf.LineCount() {
		return nil, fmt.Errorf("%s: no such line", m.ID())
	}
	pos := tf.LineStart(m.Line) + token.Pos(m.Column-1)
	var found ast.Node
	var op *token.Token
	ast.Inspect(f, func(n ast.Node) bool {
		if found != nil {
			return false
		}
		if p, t := operator(n); t != nil && p == pos {
			found, op = n, t
		}
		return true
	})
	if found == nil {
		return nil, fmt.Errorf("%s: no operator there", m.ID())
	}
	to, ok := table[*op]
	if !ok {
		return nil, fmt.Errorf("%s: %s does not mutate %s", m.ID(), m.Type, *op)
	}
	s := &site{fset: fset, file: f, op: op, from: *op, to: to}
	s.place, s.anchor = placeOf(f, found)
	return s, nil
}

// operator returns the position of the operator of the nodes gremlins
// mutates (internal/engine/node.go) and the operator itself, or nil.
func operator(n ast.Node) (token.Pos, *token.Token) {
	switch n := n.(type) {
	case *ast.AssignStmt:
		return n.TokPos, &n.Tok
	case *ast.BinaryExpr:
		return n.OpPos, &n.Op
	case *ast.BranchStmt:
		return n.TokPos, &n.Tok
	case *ast.IncDecStmt:
		return n.TokPos, &n.Tok
	case *ast.UnaryExpr:
		return n.OpPos, &n.Op
	}
	return token.NoPos, nil
}

// placeOf says where n is and, in a function, returns its anchor
// statement (see site.anchor).
func placeOf(f *ast.File, n ast.Node) (place, ast.Node) {
	path, _ := astutil.PathEnclosingInterval(f, n.Pos(), n.End())
	for i, p := range path {
		switch p := p.(type) {
		case *ast.CaseClause:
			if n.Pos() < p.Colon && i+2 < len(path) {
				return inStatement, path[i+2] // CaseClause → BlockStmt → switch
			}
			return inStatement, p
		case *ast.CommClause:
			if n.Pos() < p.Colon && i+2 < len(path) {
				return inStatement, path[i+2] // CommClause → BlockStmt → select
			}
			return inStatement, p
		case *ast.BlockStmt:
			continue // a block holds statements; n is in one of them
		case ast.Stmt:
			return inStatement, p
		case *ast.GenDecl:
			if _, top := path[i+1].(*ast.File); top && (p.Tok == token.CONST || p.Tok == token.VAR) {
				return inPackageDecl, nil
			}
		}
	}
	return inPackageDecl, nil
}

// mutated returns the source with the operator replaced in the syntax
// tree, printed as gremlins prints it: the tree, not the text, is mutated,
// so that "a && b && c" becomes "(a || b) && c", never "a || b && c".
func (s *site) mutated() ([]byte, error) {
	*s.op = s.to
	defer func() { *s.op = s.from }()
	var b bytes.Buffer
	if err := printer.Fprint(&b, s.fset, s.file); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
