import { lazy, Suspense, type ReactNode } from 'react';
import { Navigate, Route, Routes, useLocation } from 'react-router';
import { useSession } from '../auth/session';
import { SignInPage } from '../auth/SignInPage';
import { SsoCallback } from '../auth/SsoCallback';
import { LoadingState } from '../ui/states';
import { Home } from './Home';
import { NotFoundPage } from './NotFoundPage';
import { ClinicLayout, OperatorLayout } from './screens';

// Everything behind sign-in is loaded when first needed: the sign-in route ships only what it shows.
const ClinicPicker = lazy(() => import('../clinic/ClinicPicker'));
const AccountPage = lazy(() => import('../account/AccountPage'));
const InvitationPage = lazy(() => import('../auth/InvitationPage'));
const VisitPage = lazy(() => import('../visit/VisitPage'));
// The patient area: its own sign-in, link landing and screens, with a patient session (never a staff one).
const PortalSignInPage = lazy(() => import('../portal/PortalSignInPage'));
const PortalLinkPage = lazy(() => import('../portal/PortalLinkPage'));
const PortalLayout = lazy(() => import('../portal/PortalLayout'));
// A SMART app's consent screen (standalone launch): staff or patient sign in as usual, then allow or decline.
const SmartConsentPage = lazy(() => import('../smart/SmartConsentPage'));

export function AppRoutes() {
  return (
    <Suspense fallback={<LoadingState />}>
      <Routes>
        <Route path="/" element={<Home />} />
        <Route path="/sign-in" element={<SignInPage />} />
        <Route path="/sign-in/sso" element={<SsoCallback />} />
        <Route path="/c/:slug/sign-in" element={<SignInPage />} />
        <Route path="/invitation/:token" element={<InvitationPage />} />
        <Route path="/c/:slug/portal/sign-in" element={<PortalSignInPage />} />
        <Route path="/c/:slug/portal/link/:token" element={<PortalLinkPage />} />
        <Route path="/c/:slug/portal/*" element={<PortalLayout />} />
        <Route path="/smart/authorize" element={<SmartConsentPage />} />
        <Route
          path="/clinics"
          element={
            <SignedIn>
              <ClinicPicker />
            </SignedIn>
          }
        />
        <Route
          path="/account"
          element={
            <SignedIn>
              <AccountPage />
            </SignedIn>
          }
        />
        {/* A patient arrives by visit link without an account; the page itself sends staff to sign in. */}
        <Route path="/c/:slug/visit/:appointmentId" element={<VisitPage />} />
        <Route
          path="/c/:slug/*"
          element={
            <SignedIn>
              <ClinicLayout />
            </SignedIn>
          }
        />
        <Route
          path="/operator/*"
          element={
            <SignedIn>
              <OperatorLayout />
            </SignedIn>
          }
        />
        <Route path="*" element={<NotFoundPage />} />
      </Routes>
    </Suspense>
  );
}

/** A screen for signed-in people: anyone else is sent to sign in and brought back afterwards. */
export function SignedIn({ children }: { children: ReactNode }) {
  const s = useSession();
  const location = useLocation();
  if (s) return <>{children}</>;
  const slug = /^\/c\/([^/]+)/.exec(location.pathname)?.[1];
  const next = encodeURIComponent(location.pathname + location.search);
  return <Navigate to={`${slug ? `/c/${slug}` : ''}/sign-in?next=${next}`} replace />;
}
