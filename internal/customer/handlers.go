package customer

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// Handlers serve customer login, refresh and profile.
type Handlers struct {
	login *Service
}

// NewHandlers returns the customer login handlers.
func NewHandlers(login *Service) (*Handlers, error) {
	if login == nil {
		return nil, errNilDependency
	}
	return &Handlers{login: login}, nil
}

type loginRequest struct {
	Code string `json:"code"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

type sessionUser struct {
	ID      int64  `json:"id"`
	Channel string `json:"channel"`
}

type sessionResponse struct {
	AccessToken  string      `json:"access_token"`
	RefreshToken string      `json:"refresh_token"`
	ExpiresIn    int64       `json:"expires_in"`
	User         sessionUser `json:"user"`
}

func writeSession(c *gin.Context, s Session) {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, sessionResponse{
		AccessToken: s.AccessToken, RefreshToken: s.RefreshToken, ExpiresIn: int64(s.ExpiresIn / time.Second),
		User: sessionUser{ID: s.CustomerID, Channel: s.Channel},
	})
}

// WeChat serves POST /api/v1/auth/wechat/login.
func (h *Handlers) WeChat(c *gin.Context) {
	var req loginRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	s, err := h.login.LoginWeChat(c.Request.Context(), req.Code)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	writeSession(c, s)
}

// Alipay serves POST /api/v1/auth/alipay/login.
func (h *Handlers) Alipay(c *gin.Context) {
	var req loginRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	s, err := h.login.LoginAlipay(c.Request.Context(), req.Code)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	writeSession(c, s)
}

// Refresh serves POST /api/v1/auth/refresh.
func (h *Handlers) Refresh(c *gin.Context) {
	var req refreshRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	s, err := h.login.Refresh(c.Request.Context(), req.RefreshToken)
	if err != nil {
		if apperr.Is(err, apperr.CodeRefreshReused) {
			// A stolen or replayed refresh token: its family was revoked.
			httpx.SecurityEvent(c, "refresh_reused")
		}
		httpx.Error(c, err)
		return
	}
	writeSession(c, s)
}

type meResponse struct {
	ID        int64     `json:"id"`
	Channel   string    `json:"channel"`
	Nickname  string    `json:"nickname"`
	AvatarURL string    `json:"avatar_url"`
	CreatedAt time.Time `json:"created_at"`
}

// Me serves GET /api/v1/me: the customer's profile and the channel of the
// current login.
func (h *Handlers) Me(c *gin.Context) {
	cu, err := h.login.Profile(c.Request.Context(), auth.CustomerID(c))
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, meResponse{
		ID: cu.ID, Channel: auth.Channel(c), Nickname: cu.Nickname, AvatarURL: cu.AvatarURL, CreatedAt: cu.CreatedAt,
	})
}

// ProfileHandlers serve the customer's own profile changes.
type ProfileHandlers struct {
	profiles *Profiles
}

// NewProfileHandlers returns the handlers of PATCH /api/v1/me.
func NewProfileHandlers(p *Profiles) (*ProfileHandlers, error) {
	if p == nil {
		return nil, errNilDependency
	}
	return &ProfileHandlers{profiles: p}, nil
}

type profileRequest struct {
	Nickname  *string `json:"nickname"`
	AvatarURL *string `json:"avatar_url"`
}

// Update serves PATCH /api/v1/me: the nickname and avatar the mini-program
// asked the user for (the platforms no longer hand them to the server).
func (h *ProfileHandlers) Update(c *gin.Context) {
	var req profileRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	cu, err := h.profiles.Update(c.Request.Context(), auth.CustomerID(c), ProfilePatch{Nickname: req.Nickname, AvatarURL: req.AvatarURL})
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, meResponse{
		ID: cu.ID, Channel: auth.Channel(c), Nickname: cu.Nickname, AvatarURL: cu.AvatarURL, CreatedAt: cu.CreatedAt,
	})
}
