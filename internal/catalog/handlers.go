package catalog

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// Handlers serve the catalog's public reads and staff writes. The public
// product detail and list come from the read cache; staff reads always go to
// the database, never to the cache.
type Handlers struct {
	svc   *Service
	cache *Cache
}

// NewHandlers returns the catalog's HTTP handlers.
func NewHandlers(svc *Service, cache *Cache) (*Handlers, error) {
	if svc == nil || cache == nil {
		return nil, errors.New("catalog: nil service or cache")
	}
	return &Handlers{svc: svc, cache: cache}, nil
}

// contentJSON is the content type of the pre-serialised pages, the same as
// gin's c.JSON.
const contentJSON = "application/json; charset=utf-8"

// ---- response shapes ----

// PublicCategory is a node of the public category tree.
type PublicCategory struct {
	ID       int64            `json:"id"`
	Name     string           `json:"name"`
	Children []PublicCategory `json:"children"`
}

func publicTree(nodes []*CategoryNode) []PublicCategory {
	out := make([]PublicCategory, len(nodes))
	for i, n := range nodes {
		out[i] = PublicCategory{ID: n.ID, Name: n.Name, Children: publicTree(n.Children)}
	}
	return out
}

// AdminCategory is a node of the staff category tree.
type AdminCategory struct {
	ID        int64           `json:"id"`
	ParentID  int64           `json:"parent_id"`
	Depth     int             `json:"depth"`
	Name      string          `json:"name"`
	SortOrder int             `json:"sort_order"`
	Visible   bool            `json:"visible"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	Children  []AdminCategory `json:"children"`
}

func adminCategory(c Category) AdminCategory {
	return AdminCategory{ID: c.ID, ParentID: c.ParentID, Depth: c.Depth, Name: c.Name, SortOrder: c.SortOrder,
		Visible: c.Visible, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Children: []AdminCategory{}}
}

func adminTree(nodes []*CategoryNode) []AdminCategory {
	out := make([]AdminCategory, len(nodes))
	for i, n := range nodes {
		out[i] = adminCategory(n.Category)
		out[i].Children = adminTree(n.Children)
	}
	return out
}

// ProductSummary is a product in the public list.
type ProductSummary struct {
	ID          int64  `json:"id"`
	Title       string `json:"title"`
	MainImage   string `json:"main_image"`
	MinPriceFen int64  `json:"min_price_fen"`
	Sales       int64  `json:"sales"`
}

// RatingBody is a product's rating summary.
type RatingBody struct {
	Average float64 `json:"average"`
	Count   int64   `json:"count"`
	// Stars counts the published reviews per star, keyed "1" to "5" (detail
	// only).
	Stars map[string]int64 `json:"stars,omitempty"`
}

func ratingBody(r Rating, stars bool) RatingBody {
	out := RatingBody{Average: r.Average(), Count: r.Count}
	if stars {
		out.Stars = make(map[string]int64, len(r.Stars))
		for i, n := range r.Stars {
			out.Stars[strconv.Itoa(i+1)] = n
		}
	}
	return out
}

// PublicSKU is a SKU on the public product detail.
type PublicSKU struct {
	ID               int64             `json:"id"`
	Specs            map[string]string `json:"specs"`
	SpecText         string            `json:"spec_text"`
	PriceFen         int64             `json:"price_fen"`
	OriginalPriceFen int64             `json:"original_price_fen"`
	Stock            int64             `json:"stock"`
	Image            string            `json:"image"`
}

// PublicProduct is the public product detail.
type PublicProduct struct {
	ID          int64       `json:"id"`
	Title       string      `json:"title"`
	Subtitle    string      `json:"subtitle"`
	Images      []string    `json:"images"`
	MainImage   string      `json:"main_image"`
	Description string      `json:"description"`
	CategoryID  int64       `json:"category_id"`
	MinPriceFen int64       `json:"min_price_fen"`
	Sales       int64       `json:"sales"`
	SKUs        []PublicSKU `json:"skus"`
	Rating      RatingBody  `json:"rating"`
}

// PublicProductBody shapes a product for the public detail; a read cache
// may serialise it ahead of time.
func PublicProductBody(p Product) PublicProduct {
	out := PublicProduct{ID: p.ID, Title: p.Title, Subtitle: p.Subtitle, Images: p.Images, MainImage: p.MainImage(),
		Description: p.Description, CategoryID: p.CategoryID, MinPriceFen: p.MinPriceFen, Sales: p.Sales,
		SKUs: make([]PublicSKU, len(p.SKUs)), Rating: ratingBody(p.Rating, true)}
	for i, k := range p.SKUs {
		out.SKUs[i] = PublicSKU{ID: k.ID, Specs: k.Specs, SpecText: k.SpecText, PriceFen: k.PriceFen,
			OriginalPriceFen: k.OriginalPriceFen, Stock: k.Stock, Image: k.Image}
	}
	return out
}

// AdminSKU is a SKU as staff see it.
type AdminSKU struct {
	ID               int64             `json:"id"`
	Code             string            `json:"sku_code"`
	Specs            map[string]string `json:"specs"`
	SpecText         string            `json:"spec_text"`
	PriceFen         int64             `json:"price_fen"`
	OriginalPriceFen int64             `json:"original_price_fen"`
	Stock            int64             `json:"stock"`
	WeightGrams      int64             `json:"weight_grams"`
	Image            string            `json:"image"`
}

// AdminProduct is a product with its live SKUs as staff see it.
type AdminProduct struct {
	ID          int64      `json:"id"`
	CategoryID  int64      `json:"category_id"`
	Title       string     `json:"title"`
	Subtitle    string     `json:"subtitle"`
	Images      []string   `json:"images"`
	MainImage   string     `json:"main_image"`
	Description string     `json:"description"`
	OnShelf     bool       `json:"on_shelf"`
	MinPriceFen int64      `json:"min_price_fen"`
	Sales       int64      `json:"sales"`
	Rating      RatingBody `json:"rating"`
	SKUs        []AdminSKU `json:"skus"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

func adminProduct(p Product) AdminProduct {
	out := AdminProduct{ID: p.ID, CategoryID: p.CategoryID, Title: p.Title, Subtitle: p.Subtitle, Images: p.Images,
		MainImage: p.MainImage(), Description: p.Description, OnShelf: p.OnShelf, MinPriceFen: p.MinPriceFen,
		Sales: p.Sales, Rating: RatingBody{Average: p.Rating.Average(), Count: p.Rating.Count},
		SKUs: make([]AdminSKU, len(p.SKUs)), CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	for i, k := range p.SKUs {
		out.SKUs[i] = AdminSKU{ID: k.ID, Code: k.Code, Specs: k.Specs, SpecText: k.SpecText, PriceFen: k.PriceFen,
			OriginalPriceFen: k.OriginalPriceFen, Stock: k.Stock, WeightGrams: k.WeightGrams, Image: k.Image}
	}
	return out
}

// AdminProductSummary is a product in the staff list.
type AdminProductSummary struct {
	ID          int64     `json:"id"`
	CategoryID  int64     `json:"category_id"`
	Title       string    `json:"title"`
	MainImage   string    `json:"main_image"`
	MinPriceFen int64     `json:"min_price_fen"`
	Sales       int64     `json:"sales"`
	OnShelf     bool      `json:"on_shelf"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ---- request shapes ----

type categoryRequest struct {
	ParentID  *int64  `json:"parent_id"`
	Name      *string `json:"name"`
	SortOrder *int    `json:"sort_order"`
	Visible   *bool   `json:"visible"`
}

type skuRequest struct {
	ID               *int64            `json:"id"`
	Code             *string           `json:"sku_code"`
	Specs            map[string]string `json:"specs"`
	PriceFen         *int64            `json:"price_fen"`
	OriginalPriceFen *int64            `json:"original_price_fen"`
	Stock            *int64            `json:"stock"`
	WeightGrams      *int64            `json:"weight_grams"`
	Image            *string           `json:"image"`
}

type productRequest struct {
	CategoryID  *int64        `json:"category_id"`
	Title       *string       `json:"title"`
	Subtitle    *string       `json:"subtitle"`
	Images      []string      `json:"images"`
	Description *string       `json:"description"`
	SKUs        *[]skuRequest `json:"skus"`
}

type createProductRequest struct {
	productRequest
	OnShelf *bool `json:"on_shelf"`
}

func or[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// input checks that required fields are present and converts the request.
func (r productRequest) input() (ProductInput, error) {
	var missing []string
	if r.CategoryID == nil {
		missing = append(missing, "category_id")
	}
	if r.Title == nil {
		missing = append(missing, "title")
	}
	if r.SKUs == nil {
		missing = append(missing, "skus")
	}
	in := ProductInput{CategoryID: or(r.CategoryID), Title: or(r.Title), Subtitle: or(r.Subtitle),
		Images: r.Images, Description: or(r.Description)}
	if r.SKUs != nil {
		for i, k := range *r.SKUs {
			if k.Code == nil {
				missing = append(missing, fmt.Sprintf("skus[%d].sku_code", i))
			}
			if k.PriceFen == nil {
				missing = append(missing, fmt.Sprintf("skus[%d].price_fen", i))
			}
			in.SKUs = append(in.SKUs, SKUInput{ID: or(k.ID), Code: or(k.Code), Specs: k.Specs, PriceFen: or(k.PriceFen),
				OriginalPriceFen: or(k.OriginalPriceFen), Stock: or(k.Stock), WeightGrams: or(k.WeightGrams), Image: or(k.Image)})
		}
	}
	if len(missing) > 0 {
		return ProductInput{}, apperr.Invalid("missing required fields", missing...)
	}
	return in, nil
}

type stockRequest struct {
	Delta    *int64 `json:"delta"`
	Set      *int64 `json:"set"`
	Expected *int64 `json:"expected"`
	Reason   string `json:"reason"`
}

// StockResponse is a SKU's stock after an adjustment.
type StockResponse struct {
	SKUID int64 `json:"sku_id"`
	Stock int64 `json:"stock"`
}

// ---- public ----

// Categories serves GET /api/v1/categories: the visible category tree.
func (h *Handlers) Categories(c *gin.Context) {
	tree, err := h.svc.Tree(c.Request.Context(), true)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, publicTree(tree))
}

// query reads the list filters shared by the public and staff lists.
func query(c *gin.Context) (ProductQuery, httpx.Page, error) {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return ProductQuery{}, page, err
	}
	q := ProductQuery{Q: c.Query("q"), Sort: c.Query("sort"), Offset: page.Offset(), Limit: page.PageSize}
	if s := c.Query("category_id"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			return q, page, apperr.Invalid("category_id must be a positive integer", "category_id")
		}
		q.CategoryID = id
	}
	return q, page, nil
}

// Products serves GET /api/v1/products: on-shelf products, filtered by
// category (with its descendants) and keyword, sorted and paged, from the
// read cache (stale by at most its TTL).
func (h *Handlers) Products(c *gin.Context) {
	q, page, err := query(c)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	body, err := h.cache.Products(c.Request.Context(), q, page)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.Data(http.StatusOK, contentJSON, body)
}

// Product serves GET /api/v1/products/{id}: an on-shelf product's detail,
// from the read cache (stock and sales stale by at most its TTL).
func (h *Handlers) Product(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	body, err := h.cache.Product(c.Request.Context(), id)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.Data(http.StatusOK, contentJSON, body)
}

// ---- staff ----

// AdminCategories serves GET /api/v1/admin/categories: the whole tree,
// hidden categories included.
func (h *Handlers) AdminCategories(c *gin.Context) {
	tree, err := h.svc.Tree(c.Request.Context(), false)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, adminTree(tree))
}

// CreateCategory serves POST /api/v1/admin/categories.
func (h *Handlers) CreateCategory(c *gin.Context) {
	var req categoryRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	cat, err := h.svc.CreateCategory(c.Request.Context(), auth.StaffID(c),
		CategoryInput{ParentID: req.ParentID, Name: req.Name, SortOrder: req.SortOrder, Visible: req.Visible})
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusCreated, adminCategory(cat))
}

// UpdateCategory serves PUT /api/v1/admin/categories/{id}; fields left out
// stay as they are.
func (h *Handlers) UpdateCategory(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	var req categoryRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	cat, err := h.svc.UpdateCategory(c.Request.Context(), auth.StaffID(c), id,
		CategoryInput{ParentID: req.ParentID, Name: req.Name, SortOrder: req.SortOrder, Visible: req.Visible})
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, adminCategory(cat))
}

// DeleteCategory serves DELETE /api/v1/admin/categories/{id}.
func (h *Handlers) DeleteCategory(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	if err := h.svc.DeleteCategory(c.Request.Context(), auth.StaffID(c), id); err != nil {
		httpx.Error(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// AdminProducts serves GET /api/v1/admin/products: every product, with an
// optional on_shelf=true|false filter.
func (h *Handlers) AdminProducts(c *gin.Context) {
	q, page, err := query(c)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	if s := c.Query("on_shelf"); s != "" {
		on, err := strconv.ParseBool(s)
		if err != nil {
			httpx.Error(c, apperr.Invalid("on_shelf must be true or false", "on_shelf"))
			return
		}
		q.OnShelf = &on
	}
	items, total, err := h.svc.Products(c.Request.Context(), q)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	out := make([]AdminProductSummary, len(items))
	for i, p := range items {
		out[i] = AdminProductSummary{ID: p.ID, CategoryID: p.CategoryID, Title: p.Title, MainImage: p.MainImage(),
			MinPriceFen: p.MinPriceFen, Sales: p.Sales, OnShelf: p.OnShelf, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	}
	c.JSON(http.StatusOK, httpx.NewList(out, total, page))
}

// AdminProduct serves GET /api/v1/admin/products/{id}, on shelf or not.
func (h *Handlers) AdminProduct(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	p, err := h.svc.Product(c.Request.Context(), id)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, adminProduct(p))
}

// CreateProduct serves POST /api/v1/admin/products.
func (h *Handlers) CreateProduct(c *gin.Context) {
	var req createProductRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	in, err := req.input()
	if err != nil {
		httpx.Error(c, err)
		return
	}
	p, err := h.svc.CreateProduct(c.Request.Context(), auth.StaffID(c), in, or(req.OnShelf))
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusCreated, adminProduct(p))
}

// UpdateProduct serves PUT /api/v1/admin/products/{id}: the product and its
// whole SKU set; stock of existing SKUs never changes here.
func (h *Handlers) UpdateProduct(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	var req productRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	in, err := req.input()
	if err != nil {
		httpx.Error(c, err)
		return
	}
	p, err := h.svc.UpdateProduct(c.Request.Context(), auth.StaffID(c), id, in)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, adminProduct(p))
}

// OnShelf serves POST /api/v1/admin/products/{id}/on-shelf.
func (h *Handlers) OnShelf(c *gin.Context) { h.shelf(c, true) }

// OffShelf serves POST /api/v1/admin/products/{id}/off-shelf.
func (h *Handlers) OffShelf(c *gin.Context) { h.shelf(c, false) }

func (h *Handlers) shelf(c *gin.Context, on bool) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	p, err := h.svc.SetShelf(c.Request.Context(), auth.StaffID(c), id, on)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, adminProduct(p))
}

// AdjustStock serves POST /api/v1/admin/skus/{id}/stock: {"delta","reason"}
// or {"set","expected","reason"}.
func (h *Handlers) AdjustStock(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	var req stockRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	stock, err := h.svc.AdjustStock(c.Request.Context(), auth.StaffID(c), id,
		StockChange{Delta: req.Delta, Set: req.Set, Expected: req.Expected, Reason: req.Reason})
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, StockResponse{SKUID: id, Stock: stock})
}
