package routes

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
)

func handleHealth() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		c.String(http.StatusOK, "ok\n")
	}
}

func handleReady(ready func(context.Context) error, logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		if ready != nil {
			if err := ready(c.Request.Context()); err != nil {
				logger.WarnContext(c.Request.Context(), "not ready", "err", err)
				c.String(http.StatusServiceUnavailable, "not ready\n")
				return
			}
		}
		c.String(http.StatusOK, "ready\n")
	}
}
