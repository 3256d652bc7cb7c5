import dayjs from 'dayjs';
import localizedFormat from 'dayjs/plugin/localizedFormat';
import 'dayjs/locale/de';

// Date inputs write dates as the viewer's locale does ('ll': "Dec 4, 2026", "4. Dez. 2026").
dayjs.extend(localizedFormat);
