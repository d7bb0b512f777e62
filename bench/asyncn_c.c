// SPDX-License-Identifier: GPL-2.0-only
/*
 * asyncn_c: the benchmark baseline. asyncn's contract written the classic C
 * way, with the driver's structure: read_iter/write_iter (one call, one
 * message), reference-counted messages copied to and from user memory with
 * no lock held, a spare buffer swapped in under the mutex, a per-open
 * "unread" generation (a read returns a message once, then blocks or fails
 * with EAGAIN), a wait queue for blocking reads and poll, woken only when
 * it has sleepers, the subscribers on a fasync list, kill_fasync() after
 * the unlock, the statistics asyncn keeps, pr_debug() traces where asyncn
 * has its traces, and one cdev for all devices added last. Nodes are
 * /dev/asyncnc0 ... Built by `make bench` only; never shipped.
 */
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/poll.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/wait.h>

static unsigned int devices = 1;
module_param(devices, uint, 0444);
MODULE_PARM_DESC(devices, "Number of devices /dev/asyncncN (1-256)");
static unsigned int buffer_size = 256;
module_param(buffer_size, uint, 0444);
MODULE_PARM_DESC(buffer_size, "Size of each buffer in bytes (1-65536)");

struct asyncnc_msg {
	refcount_t ref;
	size_t len;
	char bytes[];
};

struct asyncnc_dev {
	struct mutex lock;	/* msg, spare, generation, opens, writes, notifications */
	struct asyncnc_msg *msg;	/* NULL before the first write */
	struct asyncnc_msg *spare;
	u64 generation;
	unsigned int opens;
	atomic64_t current_gen;	/* readable generation, 0: none; read locklessly */
	wait_queue_head_t readable;
	struct fasync_struct *subscribers;
	/* Statistics, as asyncn's sysfs files (not shown here). */
	atomic_t readers, writers, subscribed;
	u64 writes, notifications;
};

/* One open file: the generation it read last (0: none). */
struct asyncnc_file {
	struct asyncnc_dev *dev;
	atomic64_t seen;
};

static dev_t region;
static struct class *asyncnc_class;
static struct asyncnc_dev *devs;
static struct cdev asyncnc_cdev;

static struct asyncnc_msg *asyncnc_msg_alloc(void)
{
	struct asyncnc_msg *m = kvzalloc(struct_size(m, bytes, buffer_size), GFP_KERNEL);

	if (m)
		refcount_set(&m->ref, 1);
	return m;
}

static void asyncnc_msg_put(struct asyncnc_msg *m)
{
	if (m && refcount_dec_and_test(&m->ref))
		kvfree(m);
}

static int asyncnc_open(struct inode *inode, struct file *file)
{
	struct asyncnc_dev *dev = &devs[MINOR(inode->i_rdev) - MINOR(region)];
	struct asyncnc_file *f;
	int ret = stream_open(inode, file);

	if (ret)
		return ret;
	f = kmalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	f->dev = dev;
	atomic64_set(&f->seen, 0);
	if (mutex_lock_interruptible(&dev->lock)) {
		kfree(f);
		return -ERESTARTSYS;
	}
	if (!dev->opens && !dev->spare) {
		dev->spare = asyncnc_msg_alloc();
		if (!dev->spare) {
			mutex_unlock(&dev->lock);
			kfree(f);
			return -ENOMEM;
		}
	}
	dev->opens++;
	if (file->f_mode & FMODE_READ)
		atomic_inc(&dev->readers);
	if (file->f_mode & FMODE_WRITE)
		atomic_inc(&dev->writers);
	pr_debug("asyncnc%ld: open, %u open\n", (long)(dev - devs), dev->opens);
	mutex_unlock(&dev->lock);
	file->private_data = f;
	return 0;
}

static int asyncnc_fasync(int fd, struct file *file, int on)
{
	struct asyncnc_file *f = file->private_data;
	int ret = fasync_helper(fd, file, on, &f->dev->subscribers);

	if (ret > 0) {
		if (on)
			atomic_inc(&f->dev->subscribed);
		else
			atomic_dec(&f->dev->subscribed);
	}
	return ret < 0 ? ret : 0;
}

static int asyncnc_release(struct inode *inode, struct file *file)
{
	struct asyncnc_file *f = file->private_data;
	struct asyncnc_dev *dev = f->dev;
	struct asyncnc_msg *msg = NULL, *spare = NULL;

	if (fasync_helper(-1, file, 0, &dev->subscribers) > 0)
		atomic_dec(&dev->subscribed);
	if (file->f_mode & FMODE_READ)
		atomic_dec(&dev->readers);
	if (file->f_mode & FMODE_WRITE)
		atomic_dec(&dev->writers);
	mutex_lock(&dev->lock);
	if (--dev->opens == 0) {
		atomic64_set_release(&dev->current_gen, 0);
		msg = dev->msg;
		spare = dev->spare;
		dev->msg = NULL;
		dev->spare = NULL;
	}
	mutex_unlock(&dev->lock);
	asyncnc_msg_put(msg);
	asyncnc_msg_put(spare);
	kfree(f);
	return 0;
}

/* The generation @f has not read yet, or 0: read would not block. */
static u64 asyncnc_unread(struct asyncnc_dev *dev, struct asyncnc_file *f)
{
	u64 cur = atomic64_read_acquire(&dev->current_gen);

	return cur && cur != (u64)atomic64_read(&f->seen) ? cur : 0;
}

static ssize_t asyncnc_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct file *file = iocb->ki_filp;
	struct asyncnc_file *f = file->private_data;
	struct asyncnc_dev *dev = f->dev;
	size_t count = iov_iter_count(to);
	struct asyncnc_msg *m;
	u64 gen, prev;
	ssize_t ret;

	if (!count)
		return 0;
	for (;;) {
		/* The mutex only when there is something to claim. */
		if (asyncnc_unread(dev, f)) {
			if (mutex_lock_interruptible(&dev->lock))
				return -ERESTARTSYS;
			gen = asyncnc_unread(dev, f);
			if (gen) {
				m = dev->msg;
				refcount_inc(&m->ref);
				prev = atomic64_xchg_relaxed(&f->seen, gen);
				mutex_unlock(&dev->lock);
				ret = min(count, m->len);
				if (copy_to_iter(m->bytes, ret, to) != ret) {
					/* Give the message back, and say it is readable. */
					if (atomic64_cmpxchg_relaxed(&f->seen, gen, prev) == gen)
						wake_up_interruptible_poll(&dev->readable,
									   EPOLLIN | EPOLLRDNORM);
					ret = -EFAULT;
				} else {
					pr_debug("asyncnc%ld: read %zd bytes of generation %llu\n",
						 (long)(dev - devs), ret, gen);
				}
				asyncnc_msg_put(m);
				return ret;
			}
			mutex_unlock(&dev->lock);
		}
		if ((file->f_flags & O_NONBLOCK) || (iocb->ki_flags & IOCB_NOWAIT))
			return -EAGAIN;
		if (wait_event_interruptible(dev->readable, asyncnc_unread(dev, f)))
			return -ERESTARTSYS;
	}
}

static ssize_t asyncnc_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct asyncnc_file *f = iocb->ki_filp->private_data;
	struct asyncnc_dev *dev = f->dev;
	size_t n = min_t(size_t, iov_iter_count(from), buffer_size);
	struct asyncnc_msg *m, *old;

	if (!n)
		return 0;
	if (mutex_lock_interruptible(&dev->lock))
		return -ERESTARTSYS;
	m = dev->spare;
	dev->spare = NULL;
	mutex_unlock(&dev->lock);
	if (!m) {
		m = asyncnc_msg_alloc();
		if (!m)
			return -ENOMEM;
	}
	if (copy_from_iter(m->bytes, n, from) != n) {
		asyncnc_msg_put(m);
		return -EFAULT;
	}
	m->len = n;
	if (mutex_lock_interruptible(&dev->lock)) {
		asyncnc_msg_put(m);
		return -ERESTARTSYS;
	}
	old = dev->msg;
	dev->msg = m;
	dev->generation++;
	atomic64_set_release(&dev->current_gen, dev->generation);
	dev->writes = dev->generation;
	dev->notifications += atomic_read(&dev->subscribed);
	pr_debug("asyncnc%ld: wrote %zu bytes, generation %llu\n", (long)(dev - devs), n,
		 dev->generation);
	/*
	 * The replaced message is the next spare unless a reader holds it: as
	 * asyncn does it, a load when ours is the only reference (none can be
	 * made from the unpublished message), else a drop that may turn out
	 * to have been the last one. Nothing is freed under the lock.
	 */
	if (!dev->spare && old) {
		if (atomic_read_acquire(&old->ref.refs) == 1 ||
		    refcount_dec_and_test(&old->ref)) {
			refcount_set(&old->ref, 1);
			dev->spare = old;
		}
		old = NULL;
	}
	mutex_unlock(&dev->lock);
	asyncnc_msg_put(old);
	/* wq_has_sleeper(): a full barrier, then the lock only if someone waits. */
	if (wq_has_sleeper(&dev->readable))
		wake_up_interruptible_poll(&dev->readable, EPOLLIN | EPOLLRDNORM);
	kill_fasync(&dev->subscribers, SIGIO, POLL_IN);
	return n;
}

static __poll_t asyncnc_poll(struct file *file, poll_table *wait)
{
	struct asyncnc_file *f = file->private_data;
	__poll_t mask = 0;

	poll_wait(file, &f->dev->readable, wait);
	/* Pairs with wq_has_sleeper() in write: a poller sees the write or is seen. */
	smp_mb();
	if ((file->f_mode & FMODE_READ) && asyncnc_unread(f->dev, f))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (file->f_mode & FMODE_WRITE)
		mask |= EPOLLOUT | EPOLLWRNORM;
	return mask;
}

static const struct file_operations asyncnc_fops = {
	.owner = THIS_MODULE,
	.open = asyncnc_open,
	.release = asyncnc_release,
	.read_iter = asyncnc_read_iter,
	.write_iter = asyncnc_write_iter,
	.fasync = asyncnc_fasync,
	.poll = asyncnc_poll,
};

static void asyncnc_remove(unsigned int nodes)
{
	while (nodes--)
		device_destroy(asyncnc_class, region + nodes);
}

static int __init asyncnc_init(void)
{
	unsigned int i;
	int ret;

	if (!devices || devices > 256 || !buffer_size || buffer_size > 65536)
		return -EINVAL;
	devs = kcalloc(devices, sizeof(*devs), GFP_KERNEL);
	if (!devs)
		return -ENOMEM;
	for (i = 0; i < devices; i++) {
		mutex_init(&devs[i].lock);
		init_waitqueue_head(&devs[i].readable);
	}
	ret = alloc_chrdev_region(&region, 0, devices, "asyncnc");
	if (ret)
		goto free_devs;
	asyncnc_class = class_create("asyncnc");
	if (IS_ERR(asyncnc_class)) {
		ret = PTR_ERR(asyncnc_class);
		goto unregister;
	}
	/* Nodes first (opening one fails with ENXIO until the cdev is added). */
	for (i = 0; i < devices; i++) {
		struct device *node;

		node = device_create(asyncnc_class, NULL, region + i, NULL, "asyncnc%u", i);
		if (IS_ERR(node)) {
			ret = PTR_ERR(node);
			goto remove;
		}
	}
	/* Last, and all at once: the devices become usable here. */
	cdev_init(&asyncnc_cdev, &asyncnc_fops);
	asyncnc_cdev.owner = THIS_MODULE;
	ret = cdev_add(&asyncnc_cdev, region, devices);
	if (ret)
		goto remove;
	return 0;

remove:
	asyncnc_remove(i);
	class_destroy(asyncnc_class);
unregister:
	unregister_chrdev_region(region, devices);
free_devs:
	kfree(devs);
	return ret;
}

static void __exit asyncnc_exit(void)
{
	cdev_del(&asyncnc_cdev);
	asyncnc_remove(devices);
	class_destroy(asyncnc_class);
	unregister_chrdev_region(region, devices);
	kfree(devs);
}

module_init(asyncnc_init);
module_exit(asyncnc_exit);
MODULE_DESCRIPTION("asyncn benchmark baseline in C (not shipped)");
MODULE_LICENSE("GPL");
