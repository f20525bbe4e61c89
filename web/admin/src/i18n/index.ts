import { createI18n } from "vue-i18n";
import zh from "./zh";
import en from "./en";

export type Locale = "zh-CN" | "en";
const key = "minimall.console.locale";

function initial(): Locale {
  try {
    return localStorage.getItem(key) === "en" ? "en" : "zh-CN";
  } catch {
    return "zh-CN";
  }
}

// Chinese by default; the choice of language (never a token) is remembered.
export const i18n = createI18n({
  legacy: false,
  globalInjection: true,
  locale: initial(),
  fallbackLocale: "zh-CN",
  messages: { "zh-CN": zh, en },
});

export function setLocale(l: Locale) {
  i18n.global.locale.value = l;
  document.documentElement.lang = l;
  try {
    localStorage.setItem(key, l);
  } catch {
    // private mode: the choice lasts for this page
  }
}
