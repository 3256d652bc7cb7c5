import { Navigate, useLocation } from 'react-router';
import { homeOf, useMe } from '../auth/me';
import { useSession } from '../auth/session';
import { ErrorState, LoadingState } from '../ui/states';

/** `/`: signed-out people sign in; signed-in people go where they work. A default SSO landing (`/?sso_code=…`) is finished too. */
export function Home() {
  const s = useSession();
  const location = useLocation();
  const me = useMe();
  if (new URLSearchParams(location.search).has('sso_code')) return <Navigate to={`/sign-in/sso${location.search}`} replace />;
  if (!s) return <Navigate to="/sign-in" replace />;
  if (me.isPending) return <LoadingState />;
  if (me.isError) return <ErrorState error={me.error} onRetry={() => void me.refetch()} />;
  return <Navigate to={homeOf(me.data)} replace />;
}
