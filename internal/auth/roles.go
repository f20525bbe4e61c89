package auth

// Role is a staff member's role.
type Role string

// Staff roles. The owner holds every permission.
const (
	RoleOwner           Role = "owner"
	RoleOperator        Role = "operator"
	RoleCustomerService Role = "customer_service"
	RoleWarehouse       Role = "warehouse"
)

// Roles lists every role.
var Roles = []Role{RoleOwner, RoleOperator, RoleCustomerService, RoleWarehouse}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, k := range Roles {
		if r == k {
			return true
		}
	}
	return false
}

// Permission is what a staff route requires.
type Permission string

// Permissions of the staff API.
const (
	PermCatalogWrite      Permission = "catalog.write"
	PermStockAdjust       Permission = "stock.adjust"
	PermOrdersView        Permission = "orders.view"
	PermOrdersShip        Permission = "orders.ship"
	PermAfterSalesDecide  Permission = "aftersales.decide"
	PermAfterSalesReceive Permission = "aftersales.receive"
	PermReviewsModerate   Permission = "reviews.moderate"
	PermDashboard         Permission = "dashboard.view"
	PermStaffManage       Permission = "staff.manage"
	// PermPaymentsResolve closes a payment anomaly with a note (owner and
	// operator): it says the money has been dealt with.
	PermPaymentsResolve Permission = "payments.resolve"
	// PermAuditView reads the audit log: the owner only, like staff
	// management, since it shows what every staff member did.
	PermAuditView Permission = "audit.view"
)

// Permissions lists every permission.
var Permissions = []Permission{
	PermCatalogWrite, PermStockAdjust, PermOrdersView, PermOrdersShip, PermAfterSalesDecide,
	PermAfterSalesReceive, PermReviewsModerate, PermDashboard, PermStaffManage, PermPaymentsResolve,
	PermAuditView,
}

// grants is the role table of the API contract; the owner is not listed
// because it holds everything.
var grants = map[Role]map[Permission]bool{
	RoleOperator: {
		PermCatalogWrite: true, PermStockAdjust: true, PermOrdersView: true, PermOrdersShip: true,
		PermAfterSalesDecide: true, PermAfterSalesReceive: true, PermReviewsModerate: true, PermDashboard: true,
		PermPaymentsResolve: true,
	},
	RoleCustomerService: {
		PermOrdersView: true, PermAfterSalesDecide: true, PermReviewsModerate: true, PermDashboard: true,
	},
	RoleWarehouse: {
		PermStockAdjust: true, PermOrdersView: true, PermOrdersShip: true, PermAfterSalesReceive: true, PermDashboard: true,
	},
}

// Can reports whether r holds p.
func (r Role) Can(p Permission) bool {
	if r == RoleOwner {
		return true
	}
	return grants[r][p]
}
