import { createApp } from "vue";
import { createPinia } from "pinia";
import ElementPlus from "element-plus";
import "element-plus/dist/index.css";
import App from "./App.vue";
import { i18n } from "./i18n";
import { router } from "./router";
import { connectSession } from "./api/client";
import { useSession } from "./stores/session";
import "./style.css";

const app = createApp(App);
const pinia = createPinia();
app.use(pinia);
app.use(i18n);
app.use(ElementPlus);
app.use(router);

const session = useSession(pinia);
connectSession(
  () => session.currentToken(),
  () => {
    session.expire();
    const here = router.currentRoute.value;
    if (here.name !== "login") router.replace({ name: "login", query: { redirect: here.fullPath } });
  },
);

app.mount("#app");
