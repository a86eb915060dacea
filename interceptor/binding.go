package interceptor

import "github.com/oauthgate/oauthgate/internal/core"

// A CertificateFunc returns the client certificate of a call: the leaf the
// client authenticated with, or nil when there is none. An error means the
// evidence is present but unreadable, and the call is refused. See
// [WithClientCertificate].
type CertificateFunc = core.CertificateFunc
