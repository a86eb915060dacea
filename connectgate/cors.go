package connectgate

// CORSAllowedHeaders returns the request headers a browser's calls to a
// Gate carry beyond those of the protocols themselves: Authorization and
// DPoP. Add them to your CORS handler's allowed headers, with the
// protocols' (connectrpc.com/cors.AllowedHeaders lists those). A new slice
// each call.
func CORSAllowedHeaders() []string { return []string{"Authorization", "DPoP"} }

// CORSExposedHeaders returns the response headers a browser's JavaScript
// must be able to read to act on a denial: WWW-Authenticate (the RFC 6750 /
// RFC 9449 challenge) and DPoP-Nonce (RFC 9449 §8). Add them to your CORS
// handler's exposed headers, with the protocols' (for gRPC-Web,
// Grpc-Status, Grpc-Message and Grpc-Status-Details-Bin;
// connectrpc.com/cors.ExposedHeaders lists those). A new slice each call.
func CORSExposedHeaders() []string { return []string{"WWW-Authenticate", "DPoP-Nonce"} }
