package conditions

import (
	"reflect"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/oauthgate/oauthgate/scopeset"
)

// scopeList is token.scopes: a CEL list over the token's scope set, in
// lexical order, that answers `in` and size() without copying the set,
// since 'admin' in token.scopes is the most common condition there is.
// Other operations read a copy, made once per evaluation. A scopeList
// belongs to one evaluation, which is never concurrent.
type scopeList struct {
	set  scopeset.Set
	list traits.Lister // the copy; nil until an operation needs it
}

var _ traits.Lister = (*scopeList)(nil)

func (l *scopeList) lister() traits.Lister {
	if l.list == nil {
		l.list = types.NewStringList(types.DefaultTypeAdapter, l.set.Scopes())
	}
	return l.list
}

// Contains implements traits.Container.
func (l *scopeList) Contains(v ref.Val) ref.Val {
	if s, ok := v.(types.String); ok {
		return types.Bool(l.set.Has(string(s)))
	}
	return l.lister().Contains(v)
}

// Size implements traits.Sizer.
func (l *scopeList) Size() ref.Val { return types.Int(l.set.Len()) }

// Add implements traits.Adder.
func (l *scopeList) Add(other ref.Val) ref.Val { return l.lister().Add(other) }

// Get implements traits.Indexer.
func (l *scopeList) Get(index ref.Val) ref.Val { return l.lister().Get(index) }

// Iterator implements traits.Iterable.
func (l *scopeList) Iterator() traits.Iterator { return l.lister().Iterator() }

// ConvertToNative implements ref.Val.
func (l *scopeList) ConvertToNative(t reflect.Type) (any, error) {
	return l.lister().ConvertToNative(t)
}

// ConvertToType implements ref.Val.
func (l *scopeList) ConvertToType(t ref.Type) ref.Val { return l.lister().ConvertToType(t) }

// Equal implements ref.Val.
func (l *scopeList) Equal(other ref.Val) ref.Val { return l.lister().Equal(other) }

// Type implements ref.Val.
func (l *scopeList) Type() ref.Type { return types.ListType }

// Value implements ref.Val.
func (l *scopeList) Value() any { return l.lister().Value() }
