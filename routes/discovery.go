package routes

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
)

// handleSMARTConfiguration serves {base}/.well-known/smart-configuration (SMART App Launch 2.x),
// where SMART clients such as fhirclient find the authorization server. It needs no token.
func handleSMARTConfiguration(a Authenticator) gin.HandlerFunc {
	body, err := json.Marshal(a.SMARTConfiguration())
	return func(c *gin.Context) {
		if err != nil {
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		c.Header("Cache-Control", "public, max-age=3600")
		c.Data(http.StatusOK, "application/json", body)
	}
}
