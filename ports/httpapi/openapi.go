package httpapi

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// OpenAPIDocument is the OpenAPI 3.1 description of every route, kept by
// hand beside the handlers; openapi_test.go holds real answers against it.
//
//go:embed openapi.json
var OpenAPIDocument []byte

// openAPI serves OpenAPIDocument at GET /openapi.json.
func openAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", OpenAPIDocument)
}
