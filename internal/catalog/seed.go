package catalog

import (
	"context"
	"fmt"

	"github.com/minimall/minimall/internal/apperr"
)

// DemoImageHost serves the demo products' placeholder images; demo mode lets
// staff keep them on products (MINIMALL_MEDIA_ALLOWED_HOSTS).
const DemoImageHost = "img.minimall.example"

type demoSpec struct {
	key    string
	values []string
}

type demoProduct struct {
	category string
	title    string
	subtitle string
	priceFen int64
	specs    []demoSpec
}

type demoBranch struct {
	name   string
	leaves []string
}

// demoTree returns the demo category tree: root → second level → leaves.
// The demo data are built by functions, so the package holds no state.
func demoTree() []struct {
	root   string
	middle []demoBranch
} {
	return []struct {
		root   string
		middle []demoBranch
	}{
		{"食品饮料", []demoBranch{{"茶叶", []string{"绿茶", "乌龙茶", "红茶"}}, {"休闲零食", []string{"坚果炒货", "糕点饼干"}}}},
		{"服饰鞋包", []demoBranch{{"男装", []string{"T恤", "衬衫"}}, {"女装", []string{"连衣裙", "卫衣"}}}},
		{"数码配件", []demoBranch{{"手机配件", []string{"数据线", "充电器"}}, {"影音", []string{"蓝牙耳机"}}}},
		{"家居日用", []demoBranch{{"厨房用品", []string{"餐具"}}, {"床上用品", []string{"四件套"}}}},
	}
}

// demoProducts returns the demo products; each SKU set is every combination
// of the spec values.
func demoProducts() []demoProduct {
	weights := demoSpec{"规格", []string{"100g", "250g", "500g"}}
	colors := demoSpec{"颜色", []string{"白色", "黑色", "藏青"}}
	sizes := demoSpec{"尺码", []string{"S", "M", "L", "XL"}}
	return []demoProduct{
		{"绿茶", "西湖龙井 明前特级 2026新茶", "杭州西湖产区 手工炒制", 16800, []demoSpec{weights}},
		{"绿茶", "洞庭碧螺春 春茶 罐装", "苏州太湖 花果香", 12800, []demoSpec{weights}},
		{"绿茶", "黄山毛峰 一级 礼盒装", "高山云雾 鲜爽回甘", 9800, []demoSpec{weights, {"包装", []string{"罐装", "礼盒"}}}},
		{"乌龙茶", "安溪铁观音 清香型", "兰花香 七泡有余香", 8800, []demoSpec{weights}},
		{"乌龙茶", "武夷山大红袍 岩茶", "传统炭焙 岩韵明显", 19800, []demoSpec{weights}},
		{"红茶", "正山小种 桐木关 红茶", "松烟香 桂圆味", 7800, []demoSpec{weights}},
		{"红茶", "云南滇红 金芽 功夫红茶", "蜜香浓郁 汤色红亮", 6800, []demoSpec{weights}},
		{"坚果炒货", "每日坚果 混合果仁 30袋", "七种坚果果干 独立小包", 9900, []demoSpec{{"规格", []string{"15袋", "30袋"}}}},
		{"坚果炒货", "临安山核桃仁 手剥 罐装", "椒盐味 颗粒饱满", 5900, []demoSpec{{"口味", []string{"椒盐", "奶香"}}}},
		{"糕点饼干", "苏式鲜肉月饼 现烤 6只装", "酥皮千层 皮薄馅大", 4800, []demoSpec{{"口味", []string{"鲜肉", "梅干菜"}}}},
		{"糕点饼干", "老北京 驴打滚 传统糕点", "豆香软糯 当日现做", 2900, []demoSpec{{"规格", []string{"4只装", "8只装"}}}},
		{"T恤", "纯棉圆领短袖T恤 男款 重磅", "新疆长绒棉 不易变形", 7900, []demoSpec{colors, sizes}},
		{"T恤", "速干运动T恤 男 透气", "吸湿排汗 跑步健身", 5900, []demoSpec{colors, sizes}},
		{"衬衫", "免烫牛津纺长袖衬衫 男士商务", "抗皱易打理", 12900, []demoSpec{{"颜色", []string{"白色", "浅蓝"}}, sizes}},
		{"连衣裙", "法式碎花连衣裙 收腰 长款", "雪纺面料 夏季新款", 15900, []demoSpec{{"颜色", []string{"蓝色碎花", "黄色碎花"}}, {"尺码", []string{"S", "M", "L"}}}},
		{"卫衣", "加绒连帽卫衣 女 宽松", "秋冬保暖 百搭", 11900, []demoSpec{{"颜色", []string{"燕麦", "灰色", "黑色"}}, {"尺码", []string{"S", "M", "L"}}}},
		{"数据线", "Type-C 快充数据线 编织 1米", "支持 100W 快充", 1990, []demoSpec{{"长度", []string{"1米", "2米"}}, {"颜色", []string{"黑色", "白色"}}}},
		{"充电器", "氮化镓 65W 三口充电器", "笔记本手机同时快充", 12900, []demoSpec{{"颜色", []string{"白色", "黑色"}}}},
		{"蓝牙耳机", "真无线蓝牙耳机 主动降噪", "40小时续航 入耳式", 29900, []demoSpec{{"颜色", []string{"珍珠白", "曜石黑"}}}},
		{"餐具", "日式陶瓷餐具套装 碗碟 家用", "釉下彩 可进微波炉", 16900, []demoSpec{{"套装", []string{"2人食", "4人食", "6人食"}}}},
		{"餐具", "304不锈钢筷子 防滑 10双装", "耐高温 不发霉", 3900, []demoSpec{{"颜色", []string{"银色", "金色"}}}},
		{"四件套", "全棉磨毛床上四件套 简约", "亲肤保暖 不起球", 25900, []demoSpec{{"尺寸", []string{"1.5米床", "1.8米床"}}, {"颜色", []string{"灰色", "米色"}}}},
		{"四件套", "天丝冰丝凉席 三件套 夏季", "冰爽透气 可机洗", 19900, []demoSpec{{"尺寸", []string{"1.5米床", "1.8米床"}}}},
	}
}

// combinations returns every combination of the specs' values.
func combinations(specs []demoSpec) []map[string]string {
	out := []map[string]string{{}}
	for _, s := range specs {
		var next []map[string]string
		for _, partial := range out {
			for _, v := range s.values {
				m := make(map[string]string, len(partial)+1)
				for k, pv := range partial {
					m[k] = pv
				}
				m[s.key] = v
				next = append(next, m)
			}
		}
		out = next
	}
	return out
}

// SeedDemo adds the demo catalog to an empty catalog on behalf of staffID: a
// three-level category tree and on-shelf products with Chinese titles,
// multi-spec SKUs and stock. A catalog that already has a category or a
// product is left alone; seeded reports whether anything was added.
func SeedDemo(ctx context.Context, svc *Service, staffID int64) (seeded bool, err error) {
	cats, err := svc.store.Categories(ctx)
	if err != nil {
		return false, apperr.Internal(err)
	}
	_, total, err := svc.Products(ctx, ProductQuery{Limit: 1})
	if err != nil {
		return false, err
	}
	if len(cats) > 0 || total > 0 {
		return false, nil
	}
	leaves := map[string]int64{}
	create := func(parent int64, name string, order int) (int64, error) {
		c, err := svc.CreateCategory(ctx, staffID, CategoryInput{ParentID: &parent, Name: &name, SortOrder: &order})
		return c.ID, err
	}
	for i, r := range demoTree() {
		rootID, err := create(0, r.root, i)
		if err != nil {
			return false, fmt.Errorf("seed category %s: %w", r.root, err)
		}
		for j, m := range r.middle {
			midID, err := create(rootID, m.name, j)
			if err != nil {
				return false, fmt.Errorf("seed category %s: %w", m.name, err)
			}
			for k, leaf := range m.leaves {
				if leaves[leaf], err = create(midID, leaf, k); err != nil {
					return false, fmt.Errorf("seed category %s: %w", leaf, err)
				}
			}
		}
	}
	for i, p := range demoProducts() {
		in := ProductInput{CategoryID: leaves[p.category], Title: p.title, Subtitle: p.subtitle,
			Images: []string{
				fmt.Sprintf("https://%s/demo/p%02d-1.jpg", DemoImageHost, i+1),
				fmt.Sprintf("https://%s/demo/p%02d-2.jpg", DemoImageHost, i+1),
			},
			Description: fmt.Sprintf("<p>%s</p><p>%s。</p>", p.title, p.subtitle)}
		for j, specs := range combinations(p.specs) {
			in.SKUs = append(in.SKUs, SKUInput{
				Code: fmt.Sprintf("DEMO-%02d-%02d", i+1, j+1), Specs: specs,
				PriceFen: p.priceFen + int64(j)*500, OriginalPriceFen: (p.priceFen + int64(j)*500) * 5 / 4,
				Stock: int64(20 + (i*37+j*11)%180), WeightGrams: int64(200 + 50*j),
			})
		}
		made, err := svc.CreateProduct(ctx, staffID, in, true)
		if err != nil {
			return false, fmt.Errorf("seed product %s: %w", p.title, err)
		}
		if err := svc.store.AddSales(ctx, made.ID, int64((i*53)%400)); err != nil {
			return false, apperr.Internal(err)
		}
	}
	return true, nil
}
