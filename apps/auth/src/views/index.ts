export { escapeHtml, html, safeUrl, SafeHtml, unsafeRaw, type HtmlValue } from "./html.js";
export { layout, type LayoutInput } from "./layout.js";
export { describeApiScope, describeScope, errorMessage, noticeMessage, VERIFY_EMAIL_REASONS, type ApiScopeText } from "./messages.js";
export { codePage, consentPage, errorPage, formExpiredPage, loggedOutPage, loginPage, logoutConfirmPage, pendingActivationPage, unavailablePage, verifyEmailResultPage, type ConsentScope, type LoginProviderLink } from "./pages.js";
export { accountMessagePage, accountPage, editProfilePage, type AccountConsentView, type AccountIdentityView, type AccountUserView } from "./account-pages.js";
