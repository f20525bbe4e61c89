// The staff session. The token lives in memory and in sessionStorage (so a
// reload of the tab keeps it, and closing the tab forgets it), nowhere else;
// logout and expiry clear both.
import { defineStore } from "pinia";
import { computed, ref } from "vue";
import type { Schemas } from "@/api/client";
import { can, type Permission } from "@/lib/perm";

const key = "minimall.console.session";

export interface StaffInfo {
  id: number;
  username: string;
  role: Schemas["StaffRole"];
}

interface Saved {
  token: string;
  expiresAt: number;
  staff: StaffInfo;
  enrolOnly?: boolean;
}

function load(): Saved | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(key) ?? "null") as Saved | null;
    if (s && s.token && s.expiresAt > Date.now()) return s;
  } catch {
    // unreadable: start logged out
  }
  sessionStorage.removeItem(key);
  return null;
}

export const useSession = defineStore("session", () => {
  const saved = load();
  const token = ref<string | null>(saved?.token ?? null);
  const expiresAt = ref<number>(saved?.expiresAt ?? 0);
  const staff = ref<StaffInfo | null>(saved?.staff ?? null);
  const expiredNotice = ref(false);
  // The shop requires a second factor and this account has none: the token
  // only admits the enrolment routes until the account enrols and logs in again.
  const enrolOnly = ref<boolean>(saved?.enrolOnly ?? false);

  const loggedIn = computed(() => token.value !== null && expiresAt.value > Date.now());

  function start(accessToken: string, expiresIn: number, who: StaffInfo, enrolmentOnly = false) {
    token.value = accessToken;
    expiresAt.value = Date.now() + expiresIn * 1000;
    staff.value = who;
    enrolOnly.value = enrolmentOnly;
    expiredNotice.value = false;
    const s: Saved = { token: accessToken, expiresAt: expiresAt.value, staff: who, enrolOnly: enrolmentOnly };
    sessionStorage.setItem(key, JSON.stringify(s));
  }

  function clear() {
    token.value = null;
    expiresAt.value = 0;
    staff.value = null;
    enrolOnly.value = false;
    sessionStorage.removeItem(key);
  }

  function expire() {
    clear();
    expiredNotice.value = true;
  }

  function currentToken(): string | null {
    if (token.value && expiresAt.value <= Date.now()) expire();
    return token.value;
  }

  const allows = (p: Permission) => !enrolOnly.value && can(staff.value?.role, p);

  return { token, staff, expiresAt, loggedIn, expiredNotice, enrolOnly, start, clear, expire, currentToken, allows };
});
