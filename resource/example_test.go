package resource_test

import (
	"fmt"

	"github.com/oauthgate/oauthgate/resource"
)

func ExampleNew() {
	md, err := resource.New(resource.Config{
		Resource:             "https://api.example.com/reports",
		AuthorizationServers: []string{"https://auth.example.com/"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(md.URL())
	fmt.Println(string(md.Document()))
	// Output:
	// https://api.example.com/.well-known/oauth-protected-resource/reports
	// {"authorization_servers":["https://auth.example.com/"],"bearer_methods_supported":["header"],"resource":"https://api.example.com/reports"}
}
